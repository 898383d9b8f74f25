#include "app/store_tools.hpp"

#include <cstdio>
#include <filesystem>

#include "store/copy.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_identity_store.hpp"
#include "store/thing_sqlite.hpp"

namespace thingport::app {

namespace {

store::pg::options pg_options(const store_target& t) {
  return store::pg::options{.url = t.url, .password_file = t.password_file};
}

} // namespace

int store_migrate_command(const store_target& t) {
  if (!t.url.empty()) {
    const int before = store::pg_migrate(pg_options(t));
    std::printf("%s: schema version %d (was %d)\n", store::pg::redact(t.url).c_str(),
                store::pg_schema_version, before);
    return 0;
  }
  std::filesystem::create_directories(t.data_dir);
  const auto file = std::filesystem::path(t.data_dir) / "identity.db";
  {
    store::sqlite_identity_store ids(file);
    store::sqlite_thing_store things(file);
  }
  std::printf("%s: schema up to date\n", file.c_str());
  return 0;
}

int store_copy_command(const std::string& from_dir, const store_target& to) {
  if (to.url.empty()) {
    std::fprintf(stderr, "thingport: store copy needs --to postgresql://...\n");
    return 2;
  }
  const auto file = std::filesystem::path(from_dir) / "identity.db";
  store::copy_sqlite_to_pg(file, pg_options(to), [](const std::string& table, std::uint64_t n) {
    std::fprintf(stderr, "\r%-24s %12llu rows", table.c_str(), static_cast<unsigned long long>(n));
    std::fflush(stderr);
  });
  std::fprintf(stderr, "\n");
  const auto a = store::count_sqlite_tables(file);
  const auto b = store::count_pg_tables(pg_options(to));
  bool same = a.size() == b.size();
  std::printf("%-24s %12s %12s\n", "table", "sqlite", "postgres");
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const bool eq = a[i].rows == b[i].rows;
    same = same && eq;
    std::printf("%-24s %12llu %12llu%s\n", a[i].table.c_str(),
                static_cast<unsigned long long>(a[i].rows),
                static_cast<unsigned long long>(b[i].rows), eq ? "" : "  DIFFERENT");
  }
  std::printf("%s\n", same ? "copy: ok" : "copy: the counts differ");
  return same ? 0 : 1;
}

int store_check_pg_command(const store_target& t) {
  const auto counts = store::count_pg_tables(pg_options(t));
  std::printf("%s\n", store::pg::redact(t.url).c_str());
  for (const auto& c : counts)
    std::printf("%-24s %12llu\n", c.table.c_str(), static_cast<unsigned long long>(c.rows));
  std::printf("ok\n");
  return 0;
}

} // namespace thingport::app
