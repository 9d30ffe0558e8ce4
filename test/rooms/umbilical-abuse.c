/*
 * Runs in a room granted room.status and abuses its umbilical the ways a
 * hostile room would: an oversized frame, a stream of malformed frames, a
 * flood of valid ones. For each it prints how many replies bay0 sent and
 * whether bay0 then closed the connection, then checks that a fresh
 * connection is still served. With "storm", it sends 10^5 generated frames
 * of every bad kind instead, plus a slow-loris, and counts the frames bay0
 * neither answered nor closed the connection on. Its room may also ask for
 * child rooms, so the storm carries policies to bay0's parser: one at the
 * frame limit whose every entry is an error (blank lines, then a list of
 * thousands of numbers where names belong), and random TOML-like text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int dial(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, "/run/anchor/umbilical");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
  return fd;
}

static void frame(int fd, const char *body, unsigned length) {
  unsigned char header[4] = {length >> 24, length >> 16, length >> 8, length};
  if (write(fd, header, 4) != 4 || (body != NULL && write(fd, body, strlen(body)) < 0)) perror("write");
}

/* Reads replies until bay0 closes (or 5 s of silence): prints their count and last error code. */
static void replies(const char *what, int fd) {
  struct timeval timeout = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char last[128] = "none";
  int count = 0;
  for (;;) {
    unsigned char header[4];
    if (recv(fd, header, 4, MSG_WAITALL) != 4) break;
    unsigned length = (unsigned)header[0] << 24 | header[1] << 16 | header[2] << 8 | header[3];
    static char body[65537];
    if (length > 65536 || recv(fd, body, length, MSG_WAITALL) != (ssize_t)length) break;
    body[length] = '\0';
    const char *code = strstr(body, "\"code\":\"");
    if (code != NULL) snprintf(last, sizeof last, "%.*s", (int)strcspn(code + 8, "\""), code + 8);
    count++;
  }
  char probe;
  int closed = recv(fd, &probe, 1, MSG_DONTWAIT) == 0;
  printf("%s replies=%d last=%s closed=%s\n", what, count, last, closed ? "yes" : "no");
  close(fd);
}

#define STORM_FRAMES 100000
#define PER_CONNECTION 1000

/* Reads replies until bay0 closes or 5 s pass in silence: whether it closed. */
static int drained_to_close(int fd) {
  struct timeval timeout = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  static char buffer[65536];
  for (;;) {
    ssize_t got = recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) return got == 0 || errno == ECONNRESET;
  }
}

#define POLICY_MAX 32768
#define POLICY_FRAMES 6

/* A room.spawn frame: a hostile policy (every deny entry an error) or random TOML-like text. */
static size_t spawn_frame(unsigned char *out, int hostile) {
  static char policy[POLICY_MAX * 2];
  size_t n = 0;
  if (hostile) {
    n += (size_t)sprintf(policy, "name = \\\"h\\\"\\nimage = \\\"minimal\\\"\\ncommand = [\\\"/x\\\"]\\n");
    for (int i = 0; i < 4000; i++) n += (size_t)sprintf(policy + n, "\\n");
    n += (size_t)sprintf(policy + n, "[seccomp]\\ndeny = [");
    while (n < POLICY_MAX - 40) n += (size_t)sprintf(policy + n, "1,");
    n += (size_t)sprintf(policy + n, "1]");
  } else {
    static const char alphabet[] = "[]=,.{}#-_ 1a";
    size_t length = 1 + (size_t)rand() % (POLICY_MAX / 2);
    while (n < length) {
      if (rand() % 8 == 0) n += (size_t)sprintf(policy + n, "\\n");
      else policy[n++] = alphabet[rand() % (int)(sizeof alphabet - 1)];
    }
  }
  int body = sprintf((char *)out + 4, "{\"type\":\"room.spawn\",\"policy\":\"%.*s\"}", (int)n, policy);
  out[0] = 0, out[1] = (unsigned char)(body >> 16), out[2] = (unsigned char)(body >> 8), out[3] = (unsigned char)body;
  return 4 + (size_t)body;
}

static int storm(void) {
  static const char *kinds[] = {
      "{", "[]", "{\"type\":5}", "{\"type\":\"room.status\",\"extra\":1}", "{\"type\":\"vault.open\"}",
      "{\"type\":\"courier.send\",\"path\":\"/etc/passwd\"}", "{\"type\":\"room.status\"}", "\xff\xfe\xfd", "null",
  };
  const int nkinds = (int)(sizeof kinds / sizeof kinds[0]);
  static unsigned char batch[PER_CONNECTION * 64 > POLICY_FRAMES * 70000 ? PER_CONNECTION * 64 : POLICY_FRAMES * 70000];
  long frames = 0;
  int connections = 0, left_open = 0, refused_dial = 0;
  while (frames < STORM_FRAMES) {
    int fd = dial();
    if (fd < 0) {
      refused_dial++;
      usleep(10000);
      continue;
    }
    int kind = connections % (nkinds + 4);
    size_t length = 0;
    int count = 1;
    if (kind >= nkinds + 2) { /* policies for bay0's parser */
      for (count = 0; count < POLICY_FRAMES; count++) length += spawn_frame(batch + length, kind == nkinds + 2);
    } else if (kind == nkinds) { /* an announced length far over the limit */
      memcpy(batch, "\x7f\xff\xff\xffxxxx", 8);
      length = 8;
    } else if (kind == nkinds + 1) { /* truncated: a frame that never ends, then our end */
      memcpy(batch, "\x00\x00\x01\x00{\"type\"", 12);
      length = 12;
    } else {
      size_t body = strlen(kinds[kind]);
      for (count = 0; count < PER_CONNECTION; count++) {
        batch[length] = 0, batch[length + 1] = 0, batch[length + 2] = (unsigned char)(body >> 8), batch[length + 3] = (unsigned char)body;
        memcpy(batch + length + 4, kinds[kind], body);
        length += 4 + body;
      }
    }
    if (send(fd, batch, length, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET) perror("send");
    if (kind == nkinds + 1) shutdown(fd, SHUT_WR);
    if (!drained_to_close(fd)) {
      left_open++;
      fprintf(stderr, "storm: connection %d (kind %d) left open\n", connections, kind);
    }
    close(fd);
    frames += count;
    connections++;
  }
  /* Slow-loris: a frame one byte a second; bay0 must hang up within its frame deadline. */
  int fd = dial();
  const char *slow = "\x00\x00\x00\x40{\"type\":\"room.status\"";
  int slow_closed = 0;
  for (int i = 0; i < 30 && !slow_closed; i++) {
    if (send(fd, slow + (i % 8), 1, MSG_NOSIGNAL) < 0) slow_closed = 1;
    char probe;
    if (recv(fd, &probe, 1, MSG_DONTWAIT) == 0) slow_closed = 1;
    sleep(1);
  }
  printf("storm frames=%ld connections=%d left_open=%d refused_dial=%d slowloris_closed=%s\n", frames, connections, left_open, refused_dial, slow_closed ? "yes" : "no");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "storm") == 0) return storm();
  int fd = dial();
  frame(fd, NULL, 65537);
  replies("oversized", fd);

  fd = dial();
  for (int i = 0; i < 8; i++) frame(fd, "{", 1);
  replies("malformed", fd);

  fd = dial();
  const char *status = "{\"type\":\"room.status\"}";
  for (int i = 0; i < 30; i++) frame(fd, status, (unsigned)strlen(status));
  replies("flood", fd);

  sleep(6); /* the rate refills */
  fd = dial();
  frame(fd, status, (unsigned)strlen(status));
  replies("after", fd);
  return 0;
}
