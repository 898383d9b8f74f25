#include "store/pg_connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <fstream>
#include <vector>

namespace thingport::store::pg {

namespace {

constexpr Oid text_oid = 25;

// A SQL text with SQLite's parameters (?N, and bare ? numbered in order) in PostgreSQL's ($N).
// Quoted literals and identifiers are copied as they are.
struct rewritten {
  std::string text;
  int params = 0;           // the highest parameter number
  std::vector<bool> used{}; // used[i]: $i+1 appears in the text
};

rewritten rewrite(std::string_view sql) {
  rewritten out;
  out.text.reserve(sql.size() + 8);
  char quote = 0;
  int bare = 0;
  auto use = [&](int n) {
    if (n > out.params) {
      out.params = n;
      out.used.resize(static_cast<std::size_t>(n));
    }
    out.used[static_cast<std::size_t>(n - 1)] = true;
  };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      quote = c == quote ? 0 : quote;
      out.text.push_back(c);
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out.text.push_back(c);
      continue;
    }
    if (c != '?') {
      out.text.push_back(c);
      continue;
    }
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') {
      ++j;
    }
    int n = 0;
    if (j == i + 1) {
      n = ++bare;
    } else {
      std::from_chars(sql.data() + i + 1, sql.data() + j, n);
      i = j - 1;
    }
    use(n);
    out.text += '$';
    out.text += std::to_string(n);
  }
  return out;
}

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...").
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r') {
      if (!out.empty() && out.back() != ' ') {
        out += ' ';
      }
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string read_password(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    throw open_error("cannot read the PostgreSQL password file " + file);
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

} // namespace

std::error_code to_error(std::string_view sqlstate) noexcept {
  if (sqlstate == "23505") {
    return errc::already_exists;
  }
  if (sqlstate == "23503") {
    return errc::not_found;
  }
  if (sqlstate == "XX001" || sqlstate == "XX002") {
    return errc::corrupt;
  }
  return errc::storage_failure;
}

std::string redact(std::string_view url) {
  // scheme://user:password@host → scheme://user:***@host; key=value forms: password=***.
  std::string out(url);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (const char* key : {"password=", "sslpassword="}) {
    auto p = out.find(key);
    while (p != std::string::npos) {
      const auto start = p + std::string_view(key).size();
      auto end = out.find_first_of("& ", start);
      if (end == std::string::npos) {
        end = out.size();
      }
      out.replace(start, end - start, "***");
      p = out.find(key, start + 3);
    }
  }
  return out;
}

// ---- cursor ---------------------------------------------------------------------------------

class connection::cursor final : public sql::cursor {
public:
  cursor(connection& db, std::string name, rewritten text)
      : db_(db), name_(std::move(name)), text_(std::move(text)) {
    const auto n = static_cast<std::size_t>(text_.params);
    values_.resize(n);
    set_.assign(n, false);
    formats_.assign(n, 0);
    ptrs_.resize(n);
    lengths_.resize(n);
    // An unused parameter has no type to infer: say text (any value binds).
    for (std::size_t i = 0; i < n; ++i) {
      types_.push_back(text_.used[i] ? 0 : text_oid);
    }
  }
  ~cursor() override { drop(); }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;

  void bind_text(int i, std::string_view text) noexcept override { put(i, text, 0); }
  void bind_int(int i, std::int64_t v) noexcept override {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    put(i, std::string_view(buf, static_cast<std::size_t>(end - buf)), 0);
  }
  void bind_null(int i) noexcept override {
    if (!slot(i)) {
      return;
    }
    set_[static_cast<std::size_t>(i - 1)] = false;
  }
  void bind_blob(int i, std::string_view bytes) noexcept override { put(i, bytes, 1); }
  void bind_bytes(int i, std::string_view bytes) noexcept override { put(i, bytes, 1); }
  std::string bytes(int col) const override { return blob(col); }

  result<bool> step() noexcept override {
    if (db_.deferring_) {
      // Sent, answered at flush(): no rows to read.
      if (auto ec = enqueue()) {
        return result<bool>(boost::system::in_place_error, ec);
      }
      return false;
    }
    if (res_ == nullptr) {
      if (auto ec = execute()) {
        return result<bool>(boost::system::in_place_error, ec);
      }
      row_ = -1;
    }
    ++row_;
    return row_ < PQntuples(res_);
  }
  void rewind() noexcept override { drop(); }
  void release() noexcept override {
    drop();
    set_.assign(set_.size(), false);
    formats_.assign(formats_.size(), 0);
    bind_failed_ = false;
  }
  bool is_null(int col) const noexcept override { return PQgetisnull(res_, row_, col) != 0; }
  std::string_view text(int col) const noexcept override {
    const char* p = PQgetvalue(res_, row_, col);
    return {p, static_cast<std::size_t>(PQgetlength(res_, row_, col))};
  }
  std::string blob(int col) const override {
    std::size_t n = 0;
    unsigned char* p =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(res_, row_, col)), &n);
    if (p == nullptr) {
      return {};
    }
    std::string out(reinterpret_cast<const char*>(p), n);
    PQfreemem(p);
    return out;
  }
  std::int64_t int64(int col) const noexcept override {
    const auto t = text(col);
    std::int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
  }

private:
  bool slot(int i) noexcept {
    if (i < 1 || i > text_.params) {
      bind_failed_ = true;
      return false;
    }
    return true;
  }
  void put(int i, std::string_view v, int format) noexcept {
    if (!slot(i)) {
      return;
    }
    const auto k = static_cast<std::size_t>(i - 1);
    try {
      values_[k].assign(v.data() != nullptr ? v.data() : "", v.size());
    } catch (...) {
      bind_failed_ = true;
      return;
    }
    set_[k] = true;
    formats_[k] = format;
  }
  void drop() noexcept {
    if (res_ != nullptr) {
      PQclear(res_);
      res_ = nullptr;
    }
  }

public:
  // Prepares the statement on the server, once per connection generation.
  std::error_code ensure_prepared() noexcept {
    if (prepared_ == db_.generation_) {
      return {};
    }
    name_server();
    PGresult* r = PQprepare(db_.conn_, server_name_.c_str(), text_.text.c_str(), text_.params,
                            types_.empty() ? nullptr : types_.data());
    auto ec = db_.note(r);
    PQclear(r);
    if (!ec) {
      prepared_ = db_.generation_;
    }
    return ec;
  }

  // In the connection's deferred pipeline: the PREPARE too when needed, then the execution.
  std::error_code enqueue() noexcept {
    if (bind_failed_) {
      return make_error_code(errc::storage_failure);
    }
    if (prepared_ != db_.generation_) {
      name_server();
      if (PQsendPrepare(db_.conn_, server_name_.c_str(), text_.text.c_str(), text_.params,
                        types_.empty() ? nullptr : types_.data()) != 1) {
        return make_error_code(errc::storage_failure);
      }
      ++db_.pending_;
      prepared_ = db_.generation_; // unless the pipeline fails: then forget_prepared()
      try {
        db_.prepared_in_pipeline_.push_back(this);
      } catch (...) {
        return make_error_code(errc::storage_failure);
      }
    }
    bind_params();
    if (PQsendQueryPrepared(db_.conn_, server_name_.c_str(), text_.params, ptrs_.data(),
                            lengths_.data(), formats_.data(), 0) != 1) {
      return make_error_code(errc::storage_failure);
    }
    ++db_.pending_;
    return {};
  }

  // A pipeline that failed may not have run this statement's PREPARE: prepare it again, under a
  // name of its own (the first one may exist after all).
  void forget_prepared() noexcept {
    prepared_ = ~std::uint64_t{0};
    ++version_;
  }

private:
  // The statement's name on the server: its cache name and version ("tp3_0").
  void name_server() noexcept {
    try {
      server_name_ = name_ + "_" + std::to_string(version_);
    } catch (...) {
      server_name_ = name_;
    }
  }
  // The bound values as libpq takes them; no allocation.
  void bind_params() noexcept {
    for (std::size_t k = 0; k < values_.size(); ++k) {
      ptrs_[k] = set_[k] ? values_[k].c_str() : nullptr;
      lengths_[k] = static_cast<int>(values_[k].size());
    }
  }

  std::error_code execute() noexcept {
    if (bind_failed_ || !db_.usable()) {
      return make_error_code(errc::storage_failure);
    }
    if (auto ec = ensure_prepared()) {
      return ec;
    }
    bind_params();
    res_ = PQexecPrepared(db_.conn_, server_name_.c_str(), text_.params, ptrs_.data(),
                          lengths_.data(), formats_.data(), 0);
    if (auto ec = db_.note(res_)) {
      drop();
      return ec;
    }
    return {};
  }

  connection& db_;
  std::string name_;
  std::string server_name_; // name_ and the generation it was prepared in
  rewritten text_;
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<bool> set_;
  std::vector<int> formats_;
  std::vector<const char*> ptrs_; // bind_params(): what libpq reads
  std::vector<int> lengths_;
  bool bind_failed_ = false;
  std::uint64_t prepared_ = ~std::uint64_t{0}; // the connection generation it was prepared in
  std::uint64_t version_ = 0;                  // bumped by forget_prepared()
  PGresult* res_ = nullptr;
  int row_ = -1;
};

// ---- connection -----------------------------------------------------------------------------

connection::connection(options opts) : opts_(std::move(opts)) {
  // Bounds on every wait, before the URL so that the URL may set its own: the connect, a server
  // that stops answering on an open connection (keepalives, unacknowledged sends), and a
  // statement that runs on (a stuck lock).
  const std::string timeout = std::to_string(std::max<long long>(1, opts_.connect_timeout.count()));
  std::vector<const char*> keys{
      "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count", "tcp_user_timeout", "options",         "dbname",
      "application_name"};
  std::vector<const char*> values{
      timeout.c_str(),   "1",        "10", "5", "3", "15000", "-c statement_timeout=60000",
      opts_.url.c_str(), "thingport"};
  std::string password;
  if (!opts_.password_file.empty()) {
    password = read_password(opts_.password_file);
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1); // expands dbname, the URL
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string why = one_line(conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory");
    PQfinish(conn_);
    conn_ = nullptr;
    throw unreachable("cannot connect to PostgreSQL at " + redact(opts_.url) + ": " + why);
  }
  last_attempt_ = std::chrono::steady_clock::now();
  // Quiet NOTICEs (CREATE TABLE IF NOT EXISTS...): they would go to stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

connection::~connection() {
  cache_.clear();
  PQfinish(conn_);
}

bool connection::connected() const noexcept {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

bool connection::usable() noexcept {
  if (connected()) {
    return !(in_tx_ && tx_failed_);
  }
  if (in_tx_) {
    tx_failed_ = true;
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_attempt_ < opts_.reconnect_interval) {
    return false;
  }
  last_attempt_ = now;
  PQreset(conn_);
  if (!connected()) {
    message_ = one_line(PQerrorMessage(conn_));
    return false;
  }
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  ++generation_;
  return true;
}

std::error_code connection::note(void* r) noexcept {
  auto* res = static_cast<PGresult*>(r);
  const auto status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    const char* n = PQcmdTuples(res);
    changes_ = 0;
    std::from_chars(n, n + std::char_traits<char>::length(n), changes_);
    return {};
  }
  try {
    message_ = one_line(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
  } catch (...) {
  }
  if (in_tx_ && !connected()) {
    tx_failed_ = true;
  }
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? to_error(state) : make_error_code(errc::storage_failure);
}

result<sql::statement> connection::prepare(const char* sql) noexcept {
  try {
    auto& slot = cache_[sql];
    if (slot == nullptr) {
      slot = std::make_unique<cursor>(*this, "tp" + std::to_string(next_name_++), rewrite(sql));
    }
    return sql::statement(slot.get());
  } catch (...) {
    cache_.erase(sql);
    return make_error_code(errc::storage_failure);
  }
}

std::error_code connection::exec(const char* sql) noexcept {
  const std::string_view text(sql);
  const bool ends = text == "COMMIT" || text == "ROLLBACK";
  if (ends && in_tx_ && (tx_failed_ || !connected())) {
    in_tx_ = tx_failed_ = false;
    return text == "ROLLBACK" ? std::error_code{} : make_error_code(errc::storage_failure);
  }
  if (!usable()) {
    return make_error_code(errc::storage_failure);
  }
  if (deferring_) {
    if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
      return make_error_code(errc::storage_failure);
    }
    ++pending_;
    return {};
  }
  PGresult* res = PQexec(conn_, sql);
  auto ec = note(res);
  // A COMMIT of a transaction that failed is answered ROLLBACK, without an error.
  if (!ec && text == "COMMIT" && std::string_view(PQcmdStatus(res)) != "COMMIT") {
    ec = make_error_code(errc::storage_failure);
  }
  PQclear(res);
  if (ends) {
    in_tx_ = tx_failed_ = false;
  }
  return ec;
}

std::error_code connection::begin(bool write) noexcept {
  // A read is one consistent snapshot (load_all); a write sees what is committed.
  auto ec = exec(write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!ec) {
    in_tx_ = true;
    tx_failed_ = false;
  }
  return ec;
}

std::int64_t connection::changes() const noexcept {
  return changes_;
}

std::string connection::last_message() const {
  return message_;
}

void connection::defer() noexcept {
  if (!deferring_ && !in_pipeline() && usable() && PQenterPipelineMode(conn_) == 1) {
    deferring_ = true;
    pending_ = 0;
    prepared_in_pipeline_.clear();
  }
}

bool connection::in_pipeline() const noexcept {
  return conn_ != nullptr && PQpipelineStatus(conn_) != PQ_PIPELINE_OFF;
}

std::error_code connection::flush(std::size_t* answered) noexcept {
  std::size_t good = 0;
  if (answered != nullptr) {
    *answered = 0;
  }
  if (!deferring_) {
    return {};
  }
  deferring_ = false;
  std::error_code first;
  if (PQpipelineSync(conn_) != 1) {
    first = make_error_code(errc::storage_failure);
  } else {
    // Every answer, then the sync's: the first error is the one that counts (the rest of the
    // pipeline was aborted by it).
    for (;;) {
      PGresult* r = PQgetResult(conn_);
      if (r == nullptr) {
        if (!connected()) {
          first = first ? first : make_error_code(errc::storage_failure);
          break;
        }
        continue; // the end of one statement's answers
      }
      const auto status = PQresultStatus(r);
      if (status == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      if (!first && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        first = status == PGRES_PIPELINE_ABORTED ? make_error_code(errc::storage_failure) : note(r);
      } else if (!first) {
        ++good;
      }
      PQclear(r);
    }
  }
  PQexitPipelineMode(conn_);
  pending_ = 0;
  if (answered != nullptr) {
    *answered = good;
  }
  if (first) {
    for (cursor* c : prepared_in_pipeline_) {
      c->forget_prepared();
    }
    if (in_tx_ && !connected()) {
      tx_failed_ = true;
    }
  }
  prepared_in_pipeline_.clear();
  return first;
}

} // namespace thingport::store::pg
