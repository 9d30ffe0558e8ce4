/*
 * anchorctl: a room's client for its umbilical (/run/anchor/umbilical),
 * shipped static in every base image (the minimal image has only busybox).
 *
 *   anchorctl status            the room's own state and limits
 *   anchorctl spawn POLICY.toml  a child room from that policy (the subset rule applies)
 *   anchorctl send FILE          hand one file to the courier
 *
 * Prints bay0's reply (one JSON object) and exits 0 when it says "ok":true;
 * otherwise prints it to stderr and exits 1 (2 for a usage or local error).
 * Frames: 4-byte big-endian length, then UTF-8 JSON, at most 64 KiB.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define UMBILICAL "/run/anchor/umbilical"
#define MAX_FRAME 65536
#define MAX_POLICY 32768

static int usage(void) {
  fputs("usage: anchorctl status | spawn POLICY.toml | send FILE\n", stderr);
  return 2;
}

/* Appends `text` as a JSON string literal to `out` (capacity `size`); -1 if it does not fit. */
static int json_string(char *out, size_t size, size_t *len, const char *text, size_t text_len) {
  if (*len + 1 >= size) return -1;
  out[(*len)++] = '"';
  for (size_t i = 0; i < text_len; i++) {
    unsigned char c = (unsigned char)text[i];
    char escaped[8];
    int n = (c == '"' || c == '\\') ? snprintf(escaped, sizeof escaped, "\\%c", c)
            : c < 0x20             ? snprintf(escaped, sizeof escaped, "\\u%04x", c)
                                   : snprintf(escaped, sizeof escaped, "%c", c);
    if (*len + (size_t)n + 1 >= size) return -1;
    memcpy(out + *len, escaped, (size_t)n);
    *len += (size_t)n;
  }
  out[(*len)++] = '"';
  return 0;
}

/* Moves exactly `len` bytes to or from the socket (send when `out`), retrying short transfers. */
static int transfer(int fd, void *data, size_t len, int out) {
  char *p = data;
  while (len > 0) {
    ssize_t n = out ? write(fd, p, len) : read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  static char request[MAX_FRAME];
  size_t len = 0;
  if (argc == 2 && strcmp(argv[1], "status") == 0) {
    len = (size_t)snprintf(request, sizeof request, "{\"type\":\"room.status\"}");
  } else if (argc == 3 && strcmp(argv[1], "spawn") == 0) {
    static char policy[MAX_POLICY + 1];
    FILE *file = fopen(argv[2], "r");
    if (file == NULL) return fprintf(stderr, "anchorctl: %s: %s\n", argv[2], strerror(errno)), 2;
    size_t n = fread(policy, 1, sizeof policy, file);
    fclose(file);
    if (n > MAX_POLICY) return fprintf(stderr, "anchorctl: %s: larger than %d bytes\n", argv[2], MAX_POLICY), 2;
    len = (size_t)snprintf(request, sizeof request, "{\"type\":\"room.spawn\",\"policy\":");
    if (json_string(request, sizeof request, &len, policy, n) != 0) return usage();
    request[len++] = '}';
  } else if (argc == 3 && strcmp(argv[1], "send") == 0) {
    /* bay0 resolves the path from the room's root, so a relative one is made absolute here. */
    static char path[PATH_MAX * 2];
    char cwd[PATH_MAX] = "";
    if (argv[2][0] != '/' && getcwd(cwd, sizeof cwd) == NULL) return fprintf(stderr, "anchorctl: getcwd: %s\n", strerror(errno)), 2;
    int n = snprintf(path, sizeof path, "%s%s%s", cwd, cwd[0] != '\0' ? "/" : "", argv[2]);
    len = (size_t)snprintf(request, sizeof request, "{\"type\":\"courier.send\",\"path\":");
    if (n < 0 || (size_t)n >= sizeof path || json_string(request, sizeof request, &len, path, (size_t)n) != 0) return usage();
    request[len++] = '}';
  } else {
    return usage();
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, UMBILICAL);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fprintf(stderr, "anchorctl: %s: %s (this room's policy grants no umbilical requests?)\n", UMBILICAL, strerror(errno));
    return 2;
  }
  unsigned char header[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len};
  if (transfer(fd, header, 4, 1) != 0 || transfer(fd, request, len, 1) != 0) return fprintf(stderr, "anchorctl: sending: %s\n", strerror(errno)), 2;

  static char reply[MAX_FRAME + 1];
  if (transfer(fd, header, 4, 0) != 0) return fputs("anchorctl: bay0 closed the umbilical without a reply\n", stderr), 2;
  size_t reply_len = (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
  if (reply_len > MAX_FRAME || transfer(fd, reply, reply_len, 0) != 0) return fputs("anchorctl: unreadable reply\n", stderr), 2;
  reply[reply_len] = '\0';
  close(fd);
  int ok = strncmp(reply, "{\"ok\":true", 10) == 0;
  fprintf(ok ? stdout : stderr, "%s\n", reply);
  return ok ? 0 : 1;
}
