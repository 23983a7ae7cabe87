// berthctl: the command line of berthd's local API (see cli.h).
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "controller/berthctl/cli.h"

namespace berth::berthctl {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"version", "Print berthctl's and berthd's versions", RunVersion},
      {"get", "List NodeContainers (-l, -n, -A, -o wide|json|yaml|name, -w)", RunGet},
      {"describe", "Show a NodeContainer in detail, with its events", RunDescribe},
      {"events", "List events (-w to follow)", RunEvents},
      {"apply", "Write NodeContainers into the manifests directory (-f FILE|DIR|-)", RunApply},
      {"delete", "Remove NodeContainers' manifests (NAME... or -f)", RunDelete},
      {"diff", "Show what applying manifests would do (-f FILE|DIR|-)", RunDiff},
      {"restart", "Recreate a NodeContainer's container now", RunRestart},
      {"logs", "Print a container's output (-f follows it)", RunLogs},
      {"exec", "Run a command in a running container", RunExec},
      {"top", "Show the CPU and memory running containers use", RunTop},
  };
  return commands;
}

namespace {

void Usage(std::ostream& out) {
  out << "berthctl talks to berthd on this node (its unix socket).\n\nCommands:\n";
  for (const Command& c : Commands()) {
    out << "  " << c.name << std::string(12 - std::min<size_t>(11, std::strlen(c.name)), ' ')
        << c.summary << "\n";
  }
  out << "\nGlobal flags:\n  --socket PATH   berthd's API socket (default $BERTH_SOCKET, else "
      << kDefaultSocket << ")\n";
}

}  // namespace
}  // namespace berth::berthctl

int main(int argc, char** argv) {
  using namespace berth::berthctl;
  const char* env_socket = std::getenv("BERTH_SOCKET");
  std::string socket = env_socket != nullptr && *env_socket != '\0' ? env_socket : kDefaultSocket;
  // --socket may come anywhere before "--"; the rest goes to the command.
  std::vector<std::string> args;
  bool after_dashes = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!after_dashes && a == "--") after_dashes = true;
    if (!after_dashes && a.rfind("--socket=", 0) == 0) {
      socket = a.substr(9);
    } else if (!after_dashes && a == "--socket") {
      if (i + 1 >= argc) {
        std::cerr << "error: flag needs an argument: --socket\n";
        return 1;
      }
      socket = argv[++i];
    } else {
      args.push_back(a);
    }
  }
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    Usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 1 : 0;
  }
  Cli cli(socket, std::cout, std::cerr);
  for (const Command& c : Commands()) {
    if (args[0] == c.name) return c.run(cli, {args.begin() + 1, args.end()});
  }
  std::cerr << "error: unknown command \"" << args[0] << "\" for \"berthctl\"\n"
            << "Run 'berthctl --help' for usage.\n";
  return 1;
}
