/* The pod sandbox process of spate's local node: it holds a pod's namespaces, reaps the
 * orphans that land on it, and exits 0 on SIGINT or SIGTERM. No registry can be reached
 * from the local environment, so node.sh builds it (gcc -static) and imports it as the
 * image localhost/spate-pause instead of pulling registry.k8s.io/pause. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    static const char version[] = "spate-pause 1\n";
    return write(STDOUT_FILENO, version, sizeof version - 1) < 0;
  }
  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  sigaction(SIGINT, &on_stop, NULL);
  sigaction(SIGTERM, &on_stop, NULL);
  sigaction(SIGCHLD, &on_child, NULL);
  for (;;) {
    pause();
  }
}
