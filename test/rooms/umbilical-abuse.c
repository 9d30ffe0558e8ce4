/*
 * Runs in a room granted room.status and abuses its umbilical the ways a
 * hostile room would: an oversized frame, a stream of malformed frames, a
 * flood of valid ones. For each it prints how many replies bay0 sent and
 * whether bay0 then closed the connection, then checks that a fresh
 * connection is still served.
 */
#include <stdio.h>
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

int main(void) {
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
