/*
 * asyncuv-echo-client: the load generator for the TCP echo benchmarks.
 *
 * A benchmark of an echo server measures the client as much as the server
 * unless the client is cheaper than the server: a node:net client saturated
 * at 55-74k round trips/s whatever the server (FINDINGS.md). This client is
 * one thread, level-triggered epoll and plain syscalls, so nearly all of its
 * cost is the kernel's.
 *
 * Modes:
 *   pingpong (default)  --conns N connections, each sends one --size byte
 *                       message, waits for exactly that many bytes back,
 *                       checks them and sends the next. After --warmup
 *                       seconds, round trips are counted for --seconds.
 *   stream              one connection writes --bytes bytes in 64 KiB writes
 *                       while it reads the echo back; reports MB/s
 *                       (10^6 bytes/s), first write to last byte read.
 *
 * Output: one JSON line on stdout. In ping-pong mode total_roundtrips also
 * counts the warm-up, so that a caller measuring the server's CPU time over
 * the whole run can divide by it. Exit status: 0 when every connection
 * stayed healthy, 1 when any failed (refused, reset, early EOF, wrong
 * bytes, stream not finished in time), 2 for bad arguments.
 *
 * It always ends by itself: every mode has a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kStreamChunk = 64 * 1024, kPatternPeriod = 251, kMaxEvents = 256 };

struct options {
  const char *host;
  int port;
  int conns;
  size_t size;
  double seconds;
  double warmup;
  int stream;
  uint64_t bytes;
};

/* One ping-pong connection. The message changes every round (its first
 * bytes carry the round number) so that a stale or duplicated echo fails the
 * check instead of passing it. */
struct conn {
  int fd;
  int connected;
  int want_out; /* EPOLLOUT is registered */
  uint64_t round;
  size_t sent;
  size_t received;
  unsigned char *out;
  unsigned char *in;
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
  fprintf(stderr,
          "usage: asyncuv-echo-client --port P [--host 127.0.0.1] [--conns N] [--size BYTES]\n"
          "                           [--seconds S] [--warmup W] [--mode pingpong|stream]\n"
          "                           [--bytes B]\n");
  exit(2);
}

static void parse_args(int argc, char **argv, struct options *o) {
  o->host = "127.0.0.1";
  o->port = 0;
  o->conns = 1;
  o->size = 1024;
  o->seconds = -1;
  o->warmup = 0.5;
  o->stream = 0;
  o->bytes = 1ull << 30;
  for (int i = 1; i < argc; i++) {
    const char *name = argv[i];
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(name, "--host") == 0) {
      o->host = value;
    } else if (strcmp(name, "--port") == 0) {
      o->port = atoi(value);
    } else if (strcmp(name, "--conns") == 0) {
      o->conns = atoi(value);
    } else if (strcmp(name, "--size") == 0) {
      o->size = (size_t)strtoull(value, NULL, 10);
    } else if (strcmp(name, "--seconds") == 0) {
      o->seconds = strtod(value, NULL);
    } else if (strcmp(name, "--warmup") == 0) {
      o->warmup = strtod(value, NULL);
    } else if (strcmp(name, "--bytes") == 0) {
      o->bytes = strtoull(value, NULL, 10);
    } else if (strcmp(name, "--mode") == 0) {
      if (strcmp(value, "stream") == 0) {
        o->stream = 1;
      } else if (strcmp(value, "pingpong") != 0) {
        usage();
      }
    } else {
      usage();
    }
  }
  /* In stream mode --seconds is a time limit, not a measuring window. */
  if (o->seconds < 0) o->seconds = o->stream ? 60 : 3;
  if (o->port <= 0 || o->port > 65535 || o->conns <= 0 || o->size == 0 || o->seconds <= 0 ||
      o->warmup < 0 || o->bytes == 0) {
    usage();
  }
}

static int resolve(const char *host, int port, struct sockaddr_storage *addr, socklen_t *len) {
  memset(addr, 0, sizeof(*addr));
  struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
    return 0;
  }
  fprintf(stderr, "asyncuv-echo-client: not a numeric address: %s\n", host);
  return -1;
}

/* Starts a non-blocking connect; the caller learns the outcome from epoll. */
static int open_socket(const struct sockaddr_storage *addr, socklen_t len) {
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  /* Without TCP_NODELAY, Nagle holds a small echo for the peer's delayed ACK. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (const struct sockaddr *)addr, len) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

/* 0 once a non-blocking connect has succeeded, else the socket's error. */
static int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

static void watch(int epfd, int op, int fd, uint32_t events, void *ptr) {
  struct epoll_event ev = {.events = events, .data = {.ptr = ptr}};
  epoll_ctl(epfd, op, fd, &ev);
}

/* ------------------------------------------------------------------------ */
/* ping-pong                                                                 */

static void stamp_round(struct conn *c, size_t size) {
  size_t n = size < sizeof(c->round) ? size : sizeof(c->round);
  memcpy(c->out, &c->round, n);
}

/* Writes as much of the current message as the socket takes. Returns -1 on
 * a write error. Leaves EPOLLOUT registered only while a message is stuck. */
static int pump_out(int epfd, struct conn *c, size_t size) {
  while (c->sent < size) {
    ssize_t n = write(c->fd, c->out + c->sent, size - c->sent);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -1;
      break;
    }
    c->sent += (size_t)n;
  }
  int want = c->sent < size;
  if (want != c->want_out) {
    c->want_out = want;
    watch(epfd, EPOLL_CTL_MOD, c->fd, EPOLLIN | (want ? EPOLLOUT : 0), c);
  }
  return 0;
}

static void drop(int epfd, struct conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
}

static int run_pingpong(const struct options *o, const struct sockaddr_storage *addr,
                        socklen_t len) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    perror("epoll_create1");
    return 1;
  }
  struct conn *conns = calloc((size_t)o->conns, sizeof(*conns));
  unsigned char *buffers = malloc((size_t)o->conns * o->size * 2);
  if (conns == NULL || buffers == NULL) {
    fprintf(stderr, "asyncuv-echo-client: out of memory\n");
    return 1;
  }
  long errors = 0;
  int open_conns = 0;
  for (int i = 0; i < o->conns; i++) {
    struct conn *c = &conns[i];
    c->out = buffers + (size_t)i * o->size * 2;
    c->in = c->out + o->size;
    /* The body is fixed per connection; only the round stamp changes. */
    for (size_t k = 0; k < o->size; k++) c->out[k] = (unsigned char)((k * 7 + (size_t)i) & 0xff);
    c->fd = open_socket(addr, len);
    if (c->fd < 0) {
      errors++;
      continue;
    }
    open_conns++;
    c->want_out = 1;
    watch(epfd, EPOLL_CTL_ADD, c->fd, EPOLLIN | EPOLLOUT, c);
  }

  double start = now_seconds();
  double measure_from = start + o->warmup;
  double end = measure_from + o->seconds;
  int measuring = o->warmup == 0;
  uint64_t roundtrips = 0;
  uint64_t total = 0; /* warm-up included, for per-round-trip costs of the whole run */
  struct epoll_event events[kMaxEvents];

  while (open_conns > 0) {
    double t = now_seconds();
    if (t >= end) break;
    if (!measuring && t >= measure_from) {
      measuring = 1;
      roundtrips = 0;
    }
    double until = measuring ? end : measure_from;
    int timeout_ms = (int)((until - t) * 1000) + 1;
    int n = epoll_wait(epfd, events, kMaxEvents, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      errors++;
      break;
    }
    for (int e = 0; e < n; e++) {
      struct conn *c = events[e].data.ptr;
      if (c->fd < 0) continue;
      if (!c->connected) {
        int err = connect_result(c->fd);
        if (err != 0) {
          fprintf(stderr, "asyncuv-echo-client: connect: %s\n", strerror(err));
          errors++;
          drop(epfd, c);
          open_conns--;
          continue;
        }
        c->connected = 1;
        stamp_round(c, o->size);
      }
      int failed = 0;
      if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        while (c->received < o->size) {
          ssize_t r = read(c->fd, c->in + c->received, o->size - c->received);
          if (r > 0) {
            c->received += (size_t)r;
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && errno == EAGAIN) break;
          fprintf(stderr, "asyncuv-echo-client: read: %s\n",
                  r == 0 ? "early EOF" : strerror(errno));
          failed = 1;
          break;
        }
        if (!failed && c->received == o->size) {
          if (c->sent != o->size || memcmp(c->in, c->out, o->size) != 0) {
            fprintf(stderr, "asyncuv-echo-client: echoed bytes differ from the message sent\n");
            failed = 1;
          } else {
            roundtrips++;
            total++;
            c->round++;
            c->sent = 0;
            c->received = 0;
            stamp_round(c, o->size);
          }
        }
      }
      if (!failed && c->sent < o->size && pump_out(epfd, c, o->size) < 0) {
        fprintf(stderr, "asyncuv-echo-client: write: %s\n", strerror(errno));
        failed = 1;
      }
      if (failed) {
        errors++;
        drop(epfd, c);
        open_conns--;
      }
    }
  }
  double elapsed = now_seconds() - (measuring ? measure_from : start);
  if (!measuring) roundtrips = 0;
  if (elapsed <= 0) elapsed = 1e-9;
  printf("{\"roundtrips\": %llu, \"seconds\": %.3f, \"rate\": %.1f, \"conns\": %d, "
         "\"errors\": %ld, \"total_roundtrips\": %llu}\n",
         (unsigned long long)roundtrips, elapsed, (double)roundtrips / elapsed, o->conns, errors,
         (unsigned long long)total);
  for (int i = 0; i < o->conns; i++) {
    if (conns[i].fd >= 0) close(conns[i].fd);
  }
  free(buffers);
  free(conns);
  close(epfd);
  return errors == 0 && open_conns > 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* stream                                                                    */

/* The byte at stream offset k is k mod 251: a prime period, so bytes that
 * are lost, repeated or reordered by a chunk show up as a mismatch. */
static int run_stream(const struct options *o, const struct sockaddr_storage *addr,
                      socklen_t len) {
  unsigned char *pattern = malloc(kStreamChunk + kPatternPeriod);
  unsigned char *in = malloc(kStreamChunk);
  if (pattern == NULL || in == NULL) {
    fprintf(stderr, "asyncuv-echo-client: out of memory\n");
    return 1;
  }
  for (size_t k = 0; k < kStreamChunk + kPatternPeriod; k++) {
    pattern[k] = (unsigned char)(k % kPatternPeriod);
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int fd = open_socket(addr, len);
  const char *failure = NULL;
  int saved_errno = 0;
  uint64_t sent = 0;
  uint64_t received = 0;
  double begin = now_seconds();
  double deadline = begin + o->seconds;
  double first_write = 0;
  if (epfd < 0 || fd < 0) {
    failure = "connect";
    saved_errno = errno;
  } else {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  }
  int connected = 0;
  int want_out = 1;
  while (failure == NULL && received < o->bytes) {
    double t = now_seconds();
    if (t >= deadline) {
      failure = "time limit reached before the whole stream came back";
      break;
    }
    struct epoll_event ev;
    int n = epoll_wait(epfd, &ev, 1, (int)((deadline - t) * 1000) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    if (!connected) {
      int err = connect_result(fd);
      if (err != 0) {
        failure = "connect";
        saved_errno = err;
        break;
      }
      connected = 1;
      first_write = now_seconds();
    }
    if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      for (;;) {
        ssize_t r = read(fd, in, kStreamChunk);
        if (r > 0) {
          if (received + (uint64_t)r > sent ||
              memcmp(in, pattern + received % kPatternPeriod, (size_t)r) != 0) {
            failure = "echoed bytes differ from the stream sent";
            break;
          }
          received += (uint64_t)r;
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        failure = r == 0 ? "early EOF" : "read";
        saved_errno = errno;
        break;
      }
    }
    while (failure == NULL && sent < o->bytes) {
      size_t chunk = o->bytes - sent < kStreamChunk ? (size_t)(o->bytes - sent) : kStreamChunk;
      ssize_t w = write(fd, pattern + sent % kPatternPeriod, chunk);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          failure = "write";
          saved_errno = errno;
        }
        break;
      }
      sent += (uint64_t)w;
    }
    int want = sent < o->bytes;
    if (failure == NULL && want != want_out) {
      want_out = want;
      struct epoll_event mod = {.events = EPOLLIN | (want ? EPOLLOUT : 0)};
      epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &mod);
    }
  }
  double elapsed = now_seconds() - (connected ? first_write : begin);
  if (elapsed <= 0) elapsed = 1e-9;
  int errors = failure != NULL;
  if (failure != NULL) {
    fprintf(stderr, "asyncuv-echo-client: %s%s%s\n", failure, saved_errno ? ": " : "",
            saved_errno ? strerror(saved_errno) : "");
  }
  double rate = (double)received / elapsed;
  printf("{\"mode\": \"stream\", \"bytes\": %llu, \"seconds\": %.3f, \"rate\": %.1f, "
         "\"mb_per_s\": %.1f, \"conns\": 1, \"errors\": %d}\n",
         (unsigned long long)received, elapsed, rate, rate / 1e6, errors);
  if (fd >= 0) close(fd);
  if (epfd >= 0) close(epfd);
  free(in);
  free(pattern);
  return errors ? 1 : 0;
}

int main(int argc, char **argv) {
  struct options o;
  parse_args(argc, argv, &o);
  /* A server that resets a connection must show up as an error, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_storage addr;
  socklen_t len;
  if (resolve(o.host, o.port, &addr, &len) != 0) return 2;
  int rc = o.stream ? run_stream(&o, &addr, len) : run_pingpong(&o, &addr, len);
  fflush(stdout);
  return rc;
}
