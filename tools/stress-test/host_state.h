// What both drivers read from the host: where work files go, mounts, CPU time, files.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace runwasi::stress {

// /dev/shm when the machine has a tmpfs there (containerd's own state is on one, under
// /run): on a disk file system, creating and removing a thousand tasks' files costs the
// tool more than the runtime's work. Empty otherwise (TempDir then uses $TMPDIR or /tmp).
std::filesystem::path defaultWorkBase();

// Every mount point as this process sees it (the fifth field of /proc/self/mountinfo).
std::vector<std::string> mountPoints();
// Mount points at or under `dir`, deepest last.
std::vector<std::string> mountsUnder(const std::filesystem::path& dir);

// The CPU time (user + system) of this process and the children it has reaped.
std::chrono::nanoseconds toolCpuTime();
// cpu / tasks in milliseconds; 0 for no task.
double msPerTask(std::chrono::nanoseconds cpu, size_t tasks);

// The file's bytes; empty when it cannot be read.
std::string readText(const std::filesystem::path& path);

}  // namespace runwasi::stress
