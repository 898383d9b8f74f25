// A fresh directory under the system's temp directory, removed with everything in it at the end
// of the scope.
#pragma once

#include <stdlib.h> // mkdtemp

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace thingport::store::test {

class temp_dir {
public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "thingport-store-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    }
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace thingport::store::test
