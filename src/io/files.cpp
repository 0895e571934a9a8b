#include "xgrad/io/files.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "xgrad/errors.hpp"

namespace xg::io {

// errno is read first, before building the message can disturb it.
void throw_io_error(const std::filesystem::path& path, const char* what, const std::filesystem::path& temporary) {
  const std::string reason = std::strerror(errno);
  std::string message = "file " + path.string() + ": " + what;
  if (!temporary.empty()) message += " the temporary file " + temporary.string();
  throw io_error(message + ": " + reason);
}

namespace {
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "of an unknown kind";
}

// The signals held while an AtomicFile is open: those that end the process without unwinding, which
// would leave its temporary file behind. Signals with a handler of the program's own, or ignored,
// are left alone.
constexpr std::array<int, 3> held_signals{SIGINT, SIGTERM, SIGHUP};
std::mutex held_mutex;
int holders = 0;
std::array<bool, held_signals.size()> held{};
std::atomic<int> caught{0};

void hold_signal(int signal) { caught = signal; }
}  // namespace

std::string read_file(const std::filesystem::path& path) {
  // Non-blocking, so that opening a FIFO with no writer returns at once to be refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw_io_error(path, "cannot open it");
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int stat_errno = errno;
    ::close(fd);
    errno = stat_errno;
    throw_io_error(path, "cannot find its size");
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw io_error("file " + path.string() + ": cannot read it: it is " + file_kind(info.st_mode) +
                   ", not a regular file");
  }
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int read_errno = errno;
      ::close(fd);
      errno = n == 0 ? EIO : read_errno;  // the file shrank while we read it
      throw_io_error(path, "reading it failed");
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return bytes;
}

AtomicFile::HeldSignals::HeldSignals() {
  std::lock_guard lock(held_mutex);
  if (holders++ > 0) return;
  for (std::size_t i = 0; i < held_signals.size(); ++i) {
    struct sigaction current {};
    ::sigaction(held_signals[i], nullptr, &current);
    held[i] = !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL;
    if (!held[i]) continue;
    struct sigaction hold {};
    hold.sa_handler = &hold_signal;
    sigemptyset(&hold.sa_mask);
    ::sigaction(held_signals[i], &hold, nullptr);
  }
}

AtomicFile::HeldSignals::~HeldSignals() {
  std::lock_guard lock(held_mutex);
  if (--holders > 0) return;
  for (std::size_t i = 0; i < held_signals.size(); ++i)
    if (held[i]) std::signal(held_signals[i], SIG_DFL);
  if (const int signal = caught.exchange(0); signal != 0) std::raise(signal);
}

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  folder_ = target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
  // The process id and a counter make the name unique among writers; O_EXCL makes sure of it.
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, ".tmp.%ld.%u", static_cast<long>(::getpid()), counter++);
    // Hidden (a listing of the folder does not show it), and no longer than a file name may be:
    // the target's name is cut to fit, the suffix keeps it unique.
    const std::string target_name = target_.filename().native();
    std::string name(1, '.');
    name.append(target_name, 0, std::min(target_name.size(), NAME_MAX - 1 - std::strlen(suffix)));
    name += suffix;
    temp_ = folder_ / name;
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt == 100)) throw_io_error(target_, "cannot create", temp_);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io_error(target_, "writing failed to", temp_);
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw_io_error(target_, "syncing failed for", temp_);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw_io_error(target_, "closing failed for", temp_);
  if (::rename(temp_.c_str(), target_.c_str()) != 0) throw_io_error(target_, "cannot replace it with", temp_);
  committed_ = true;
  int folder = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder < 0) throw_io_error(target_, "opening its folder to sync it failed");
  // Some file systems cannot sync a folder (EINVAL); the rename is then as durable as they allow.
  int synced = ::fsync(folder);
  int sync_errno = errno;
  ::close(folder);
  if (synced != 0 && sync_errno != EINVAL) {
    errno = sync_errno;
    throw_io_error(target_, "syncing its folder failed");
  }
}

bool file_exists(const std::filesystem::path& path) {
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (error) throw io_error("file " + path.string() + ": cannot tell whether it exists: " + error.message());
  return exists;
}

void remove_file(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::remove(path, error);
  if (error) throw io_error("file " + path.string() + ": cannot remove it: " + error.message());
}

void create_folder(const std::filesystem::path& folder) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) throw io_error("folder " + folder.string() + ": cannot create it: " + error.message());
}

void check_writable_folder(const std::filesystem::path& folder) {
  create_folder(folder);
  AtomicFile probe(folder / "write-test");  // never committed: removed again
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  AtomicFile file(path);
  file.write(contents.data(), contents.size());
  file.commit();
}

}  // namespace xg::io
