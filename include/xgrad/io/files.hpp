#pragma once
// Files as xgrad reads and writes them: whole regular files in, atomic replacement out, and every
// failure an xg::io_error naming the file and the system's reason.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace xg::io {

// Throws io_error "file <path>: <what>[ the temporary file <temporary>]: <strerror(errno)>".
[[noreturn]] void throw_io_error(const std::filesystem::path& path, const char* what,
                                 const std::filesystem::path& temporary = {});

// The whole content of a regular file. A folder, a FIFO (refused at once, never waited on), a
// device or a file that cannot be read is an io_error saying so.
std::string read_file(const std::filesystem::path& path);

// A file written under a hidden temporary name in the target's folder (the target's name cut so that
// it fits 255 bytes), then renamed over the target by commit(): readers, and a crash, see either the
// old file or the complete new one. Without commit() the temporary file is removed. While any
// AtomicFile is open, SIGINT, SIGTERM and SIGHUP whose action is the default are held, then delivered
// once the last one is committed or removed: Ctrl-C leaves no temporary file behind.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size);
  // Data on disk first, then the rename, then the folder entry on disk.
  void commit();

 private:
  // Holds the signals from before the temporary file exists until after it is gone.
  struct HeldSignals {
    HeldSignals();
    ~HeldSignals();
  } held_;
  std::filesystem::path target_, folder_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Whether something exists at path (a dangling symlink does not); an io_error with the system's
// reason if that cannot be told (a symlink loop, a folder without permission).
bool file_exists(const std::filesystem::path& path);
// Removes the file if it is there; an io_error with the system's reason if it cannot.
void remove_file(const std::filesystem::path& path);

// The folder and its parents made if missing; an io_error with the system's reason otherwise (a
// regular file in the way, a read-only file system, a symlink loop).
void create_folder(const std::filesystem::path& folder);
// create_folder, then a file created and removed in it: an io_error now rather than after hours of
// work if results cannot be written there.
void check_writable_folder(const std::filesystem::path& folder);

// contents written to path with an AtomicFile.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace xg::io
