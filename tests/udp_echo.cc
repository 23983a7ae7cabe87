// berth-udp-echo PORT: answers every UDP datagram on PORT (every IPv4
// address) with "echo:" and the datagram. Linked statically, so that a
// busybox container can run it from a hostPath mount (busybox's nc has no
// UDP). For network_e2e_test; runs until killed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: berth-udp-echo PORT\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("berth-udp-echo: bind");
    return 1;
  }
  char in[1024];
  char out[sizeof in + 5];
  for (;;) {
    sockaddr_in from = {};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(fd, in, sizeof in, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) continue;
    std::memcpy(out, "echo:", 5);
    std::memcpy(out + 5, in, static_cast<size_t>(n));
    sendto(fd, out, static_cast<size_t>(n) + 5, 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}
