// A throwaway PostgreSQL 15 server for the store tests: initdb into a fresh directory under /tmp,
// started on a free port of 127.0.0.1 (trust authentication, superuser "thingport", fsync off),
// a fresh database per test (create_database), taken away and brought back on the same port for
// fault tests (stop, start), and everything removed at the end. PostgreSQL refuses to run as
// root: as root the server and its tools run as the `postgres` user. A watchdog process stops
// the server and removes the directory should the test process die without running its
// destructors (crash, SIGKILL, a timeout). tests/integration/pgserver.py is the Python twin.
//
// Binaries: /usr/lib/postgresql/15/bin, or the directory in THINGPORT_PG_BINDIR. Link with -lpq.
//
// Threads: url() and create_database() may be called from any thread; construction, start(),
// stop() and destruction may not overlap anything else.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h> // mkdtemp
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace thingport::store::test {

class pg_server {
public:
  // Runs initdb and starts the server. Throws std::runtime_error carrying the failing tool's
  // output and the tail of the server log; nothing is left behind then.
  pg_server() {
    try {
      init();
    } catch (...) {
      cleanup();
      throw;
    }
  }
  // Stops the server (immediate mode) and removes its directory. Does nothing in a forked child
  // (a death test): the server belongs to the process that started it.
  ~pg_server() { cleanup(); }
  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;

  // The server of this test process, started on first use, stopped at exit.
  static pg_server& shared() {
    static pg_server server;
    return server;
  }

  // "postgresql://thingport@127.0.0.1:PORT/db"
  std::string url(const std::string& db = "postgres") const {
    return "postgresql://" + std::string(superuser) + "@127.0.0.1:" + std::to_string(port_) + "/" +
           db;
  }

  // Creates a fresh, empty database (named t<n>_<pid>) and returns its URL.
  std::string create_database() {
    const std::string name =
        "t" + std::to_string(next_db_.fetch_add(1) + 1) + "_" + std::to_string(getpid());
    const std::string admin = url();
    PGconn* conn = PQconnectdb(admin.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string error = PQerrorMessage(conn);
      PQfinish(conn);
      throw std::runtime_error("pg_server: cannot connect to " + admin + ": " + error);
    }
    PGresult* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    const std::string error = ok ? "" : PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
    if (!ok) {
      throw std::runtime_error("pg_server: CREATE DATABASE " + name + " failed: " + error);
    }
    return url(name);
  }

  // Fast shutdown (open connections are cut); waits until the server is gone. No-op if stopped.
  void stop() {
    if (!running_) {
      return;
    }
    const std::string error = run({tool("pg_ctl"), "-D", data_dir(), "-m", "fast", "-w", "stop"});
    if (!error.empty()) {
      throw std::runtime_error("pg_server: cannot stop PostgreSQL: " + error);
    }
    running_ = false;
  }

  // Starts the server again, on the same port and data directory; waits until it accepts
  // connections. No-op if running.
  void start() {
    if (!running_) {
      launch(false);
    }
  }

  bool running() const noexcept { return running_; }
  int port() const noexcept { return port_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }

private:
  static constexpr std::string_view superuser = "thingport";
  static constexpr int start_attempts = 5; // a free port taken by someone else before us
  static constexpr std::size_t tail_lines = 30;

  std::filesystem::path bindir_;
  std::filesystem::path dir_; // empty until mkdtemp succeeded
  bool switch_user_ = false;  // run the tools and the server as `postgres` (we are root)
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int port_ = 0;
  bool running_ = false;
  pid_t owner_ = getpid();
  pid_t watchdog_ = -1;
  int watchdog_fd_ = -1; // our end of the watchdog's stdin: it sees EOF when we die
  std::atomic<unsigned> next_db_{0};

  void init() {
    const char* bindir = std::getenv("THINGPORT_PG_BINDIR");
    bindir_ = bindir != nullptr && *bindir != '\0' ? bindir : "/usr/lib/postgresql/15/bin";
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr) {
        throw std::runtime_error("pg_server: running as root and there is no `postgres` user");
      }
      switch_user_ = true;
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    }
    std::string tmpl = "/tmp/thingport-pg-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw_errno("mkdtemp " + tmpl);
    }
    dir_ = tmpl;
    if (switch_user_ && chown(tmpl.c_str(), uid_, gid_) != 0) {
      throw_errno("chown " + tmpl);
    }
    if (chmod(tmpl.c_str(), 0700) != 0) {
      throw_errno("chmod " + tmpl);
    }
    start_watchdog();

    const std::string user(superuser);
    std::vector<std::string> initdb = {tool("initdb"), "-D",   data_dir(),
                                       "-U",           user,   "--auth=trust",
                                       "-E",           "UTF8", "--locale=C.UTF-8"};
    std::string error = run(initdb);
    if (!error.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(data_dir(), ec);
      initdb.back() = "--no-locale";
      const std::string second = run(initdb);
      if (!second.empty()) {
        throw std::runtime_error("pg_server: initdb failed with --locale=C.UTF-8: " + error +
                                 "\nand with --no-locale: " + second);
      }
    }
    launch(true);
  }

  // pg_ctl start, on a newly picked free port (retried if someone else took it first) or on the
  // current one.
  void launch(bool pick_port) {
    const std::string log = (dir_ / "log").string();
    for (int attempt = 1;; ++attempt) {
      if (pick_port) {
        port_ = free_port();
      }
      std::error_code ec;
      const auto size = std::filesystem::file_size(log, ec);
      const std::size_t from = ec ? 0 : static_cast<std::size_t>(size);
      const std::string options = "-p " + std::to_string(port_) + " -k " + dir_.string() +
                                  " -c listen_addresses=127.0.0.1 -c fsync=off" +
                                  " -c max_connections=200";
      const std::string error =
          run({tool("pg_ctl"), "-D", data_dir(), "-o", options, "-l", log, "-w", "start"});
      if (error.empty()) {
        running_ = true;
        return;
      }
      stop_immediately(); // pg_ctl may have given up on a server that is still coming up
      const std::string new_log = read_file(log, from);
      if (pick_port && attempt < start_attempts &&
          new_log.find("Address already in use") != std::string::npos) {
        continue;
      }
      throw std::runtime_error(
          "pg_server: cannot start PostgreSQL on 127.0.0.1:" + std::to_string(port_) + ": " +
          error + "\nserver log (" + log + "):\n" + tail(new_log));
    }
  }

  void stop_immediately() {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(data_dir()) / "postmaster.pid", ec)) {
      (void)run({tool("pg_ctl"), "-D", data_dir(), "-m", "immediate", "-w", "stop"});
    }
    running_ = false;
  }

  void cleanup() noexcept {
    if (getpid() != owner_) {
      return;
    }
    if (!dir_.empty()) {
      try {
        stop_immediately();
      } catch (...) { // fork failed: the watchdog below is the last resort
      }
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
    if (watchdog_ > 0) {
      kill(watchdog_, SIGKILL);
      while (waitpid(watchdog_, nullptr, 0) < 0 && errno == EINTR) {
      }
      watchdog_ = -1;
    }
    if (watchdog_fd_ >= 0) {
      close(watchdog_fd_);
      watchdog_fd_ = -1;
    }
  }

  // A shell, in its own session, whose stdin is a socket only we hold: when this process is gone
  // (however it ended) it reads EOF, stops the server and removes the directory. cleanup() kills
  // it after doing the same.
  void start_watchdog() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      throw_errno("socketpair");
    }
    const std::string script =
        "read -r _; \"$1\" -D \"$2/data\" -m immediate -w stop; rm -rf -- \"$2\"";
    const std::vector<std::string> args = {"sh", "-c", script, "sh", tool("pg_ctl"), dir_.string()};
    std::vector<char*> argv = c_argv(args);
    const pid_t pid = fork();
    if (pid < 0) {
      const int err = errno;
      close(sv[0]);
      close(sv[1]);
      throw std::system_error(err, std::generic_category(), "pg_server: fork");
    }
    if (pid == 0) {
      setsid(); // not killed with our process group (Ctrl-C, a test runner's timeout)
      if (dup2(sv[1], 0) < 0) {
        _exit(127);
      }
      exec_child("/bin/sh", argv.data(), "/dev/null", "/");
    }
    close(sv[1]);
    watchdog_ = pid;
    watchdog_fd_ = sv[0];
  }

  // Runs args (args[0] an absolute path) as the server's user in dir_, stdin /dev/null, stdout
  // and stderr into dir_/cmd.log. Returns "" on exit status 0, else what happened and the output.
  std::string run(const std::vector<std::string>& args) const {
    std::vector<char*> argv = c_argv(args);
    const std::string out = (dir_ / "cmd.log").string();
    const std::string cwd = dir_.string();
    const pid_t pid = fork();
    if (pid < 0) {
      throw_errno("fork");
    }
    if (pid == 0) {
      const int in = open("/dev/null", O_RDONLY);
      if (in < 0 || dup2(in, 0) < 0) {
        _exit(127);
      }
      exec_child(argv[0], argv.data(), out.c_str(), cwd.c_str());
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        throw_errno("waitpid");
      }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      return {};
    }
    std::string what = args[0];
    if (WIFEXITED(status)) {
      what += " exited with status " + std::to_string(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      what += " was killed by signal " + std::to_string(WTERMSIG(status));
    } else {
      what += " ended with wait status " + std::to_string(status);
    }
    return what + "\n" + tail(read_file(out, 0));
  }

  // In a forked child: only async-signal-safe calls from here on.
  [[noreturn]] void exec_child(const char* path, char* const* argv, const char* out,
                               const char* cwd) const {
    if (switch_user_ && (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0)) {
      child_fail("pg_server: cannot switch to the postgres user\n");
    }
    const int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
      child_fail("pg_server: cannot open the command's output file\n");
    }
    if (fd > 2) {
      close(fd);
    }
    if (chdir(cwd) != 0) {
      child_fail("pg_server: chdir failed\n");
    }
    execv(path, argv);
    child_fail("pg_server: exec failed\n");
  }

  [[noreturn]] static void child_fail(std::string_view message) {
    if (write(2, message.data(), message.size()) < 0) {
    }
    _exit(127);
  }

  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw_errno("socket");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      const int err = errno;
      close(fd);
      throw std::system_error(err, std::generic_category(), "pg_server: free port");
    }
    close(fd);
    return ntohs(addr.sin_port);
  }

  std::string tool(const char* name) const { return (bindir_ / name).string(); }
  std::string data_dir() const { return (dir_ / "data").string(); }

  static std::vector<char*> c_argv(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    return argv;
  }

  static std::string read_file(const std::string& path, std::size_t from) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return "(no " + path + ")";
    }
    in.seekg(static_cast<std::streamoff>(from));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  static std::string tail(const std::string& text) {
    std::size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') {
      --pos;
    }
    for (std::size_t lines = 0; pos > 0; --pos) {
      if (text[pos - 1] == '\n' && ++lines == tail_lines) {
        break;
      }
    }
    return text.substr(pos);
  }

  [[noreturn]] static void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), "pg_server: " + what);
  }
};

} // namespace thingport::store::test
