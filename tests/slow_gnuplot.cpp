// A stand-in for gnuplot that takes its script and then never finishes
// drawing: the time-limit test puts it first on PATH, so that the limit is
// sure to fall while the figures are being drawn, however fast the machine's
// real gnuplot is. It says its process id in slow-gnuplot.pid (in the folder
// pevis starts it in), so that the test can check it was stopped with pevis.
#include <unistd.h>

#include <cstdio>
#include <string>

int main() {
  if (std::FILE* pid = std::fopen("slow-gnuplot.pid", "a")) {  // one line per gnuplot pevis starts
    std::fprintf(pid, "%d\n", static_cast<int>(::getpid()));
    std::fclose(pid);
  }
  char buffer[4096];
  while (::read(0, buffer, sizeof buffer) > 0) {
  }
  ::sleep(600);
  return 0;
}
