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
 *   bulk                --conns N connections share --bytes bytes of
 *                       pseudo-random data. All N connect first (at most
 *                       --connect-batch connects in flight, so the server's
 *                       backlog is not overrun); once every one is up they
 *                       all stream their share at once, reading the echo
 *                       back, and each compares a checksum of what came back
 *                       with one of what it sent, then closes. --seconds is
 *                       a time limit.
 *   sink                one connection, a slow reader: reads at most
 *                       --read-size bytes every --interval-ms milliseconds
 *                       until EOF, checking the k mod 251 pattern of stream
 *                       mode. The peer under test is the fast writer.
 *   source              one connection, a fast writer: writes --bytes of the
 *                       pattern as fast as the peer takes them, shuts down
 *                       its write side, then waits for the peer to close.
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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { kStreamChunk = 64 * 1024, kPatternPeriod = 251, kMaxEvents = 256, kBulkChunk = 16 * 1024 };

struct options {
  const char *host;
  int port;
  int conns;
  size_t size;
  double seconds;
  double warmup;
  int stream;
  int bulk;
  int sink;
  int source;
  size_t read_size;
  double interval_ms;
  int connect_batch;
  uint64_t seed;
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
          "                           [--bytes B] [--connect-batch K] [--seed S]\n"
          "                           [--read-size BYTES] [--interval-ms MS]\n");
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
  o->bulk = 0;
  o->sink = 0;
  o->source = 0;
  o->read_size = 64 * 1024;
  o->interval_ms = 10;
  o->connect_batch = 256;
  o->seed = 1;
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
    } else if (strcmp(name, "--connect-batch") == 0) {
      o->connect_batch = atoi(value);
    } else if (strcmp(name, "--read-size") == 0) {
      o->read_size = (size_t)strtoull(value, NULL, 10);
    } else if (strcmp(name, "--interval-ms") == 0) {
      o->interval_ms = strtod(value, NULL);
    } else if (strcmp(name, "--seed") == 0) {
      o->seed = strtoull(value, NULL, 10);
    } else if (strcmp(name, "--mode") == 0) {
      if (strcmp(value, "stream") == 0) {
        o->stream = 1;
      } else if (strcmp(value, "bulk") == 0) {
        o->bulk = 1;
      } else if (strcmp(value, "sink") == 0) {
        o->sink = 1;
      } else if (strcmp(value, "source") == 0) {
        o->source = 1;
      } else if (strcmp(value, "pingpong") != 0) {
        usage();
      }
    } else {
      usage();
    }
  }
  /* In stream mode --seconds is a time limit, not a measuring window. */
  if (o->seconds < 0) o->seconds = o->stream || o->bulk || o->sink || o->source ? 60 : 3;
  if (o->port <= 0 || o->port > 65535 || o->conns <= 0 || o->size == 0 || o->seconds <= 0 ||
      o->warmup < 0 || o->bytes == 0 || o->connect_batch <= 0 ||
      o->read_size == 0 || o->interval_ms < 0) {
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

/* ------------------------------------------------------------------------ */
/* bulk                                                                      */

/* Connection i's byte at offset k is byte k % 8 of splitmix64(seed_i + k / 8):
 * any range can be regenerated from its offset, so a short write needs no
 * per-connection copy of the unsent rest (10,000 copies would be the memory
 * the run is meant to measure on the server). */
static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static void fill_random(uint64_t seed, uint64_t offset, unsigned char *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint64_t at = offset + i;
    uint64_t word = splitmix64(seed + at / 8);
    out[i] = (unsigned char)(word >> (8 * (at % 8)));
  }
}

/* FNV-1a, 64 bits: order-sensitive, so a lost, repeated or reordered chunk
 * changes it. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static const uint64_t kFnvOffset = 0xcbf29ce484222325ull;

enum bulk_state { kIdle, kConnecting, kWaiting, kStreaming, kDone, kFailed };

struct bulk_conn {
  int fd;
  enum bulk_state state;
  uint32_t events; /* what epoll watches now */
  uint64_t seed;
  uint64_t total; /* this connection's share */
  uint64_t sent;
  uint64_t received;
  uint64_t sum_sent;
  uint64_t sum_received;
};

static void bulk_watch(int epfd, struct bulk_conn *c, uint32_t events) {
  if (events == c->events) return;
  watch(epfd, EPOLL_CTL_MOD, c->fd, events, c);
  c->events = events;
}

static void bulk_fail(int epfd, struct bulk_conn *c, const char *what, int err, long *errors) {
  /* Only the first few failures are printed: a refused storm of 10,000
   * would bury the summary. */
  if (*errors < 10) {
    fprintf(stderr, "asyncuv-echo-client: bulk: %s%s%s\n", what, err ? ": " : "",
            err ? strerror(err) : "");
  }
  (*errors)++;
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = kFailed;
}

static int run_bulk(const struct options *o, const struct sockaddr_storage *addr, socklen_t len) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct bulk_conn *conns = calloc((size_t)o->conns, sizeof(*conns));
  unsigned char *out = malloc(kBulkChunk);
  unsigned char *in = malloc(kStreamChunk);
  if (epfd < 0 || conns == NULL || out == NULL || in == NULL) {
    fprintf(stderr, "asyncuv-echo-client: out of memory\n");
    return 1;
  }
  uint64_t share = o->bytes / (uint64_t)o->conns;
  uint64_t extra = o->bytes % (uint64_t)o->conns;
  for (int i = 0; i < o->conns; i++) {
    conns[i].fd = -1;
    conns[i].state = kIdle;
    conns[i].seed = splitmix64(o->seed * 1000003ull + (uint64_t)i);
    conns[i].total = share + ((uint64_t)i < extra ? 1 : 0);
    conns[i].sum_sent = kFnvOffset;
    conns[i].sum_received = kFnvOffset;
  }
  long errors = 0;
  long checksum_errors = 0;
  int next = 0;          /* next connection to open */
  int connecting = 0;    /* connects in flight */
  int settled = 0;       /* connected or failed to connect */
  int open_now = 0;
  int peak_open = 0;
  int done = 0;          /* verified and closed */
  int failed = 0;
  int released = 0;      /* the barrier: every connect has settled */
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  double begin = now_seconds();
  double deadline = begin + o->seconds;
  double stream_begin = begin;
  struct epoll_event events[kMaxEvents];

  while (done + failed < o->conns) {
    /* Keep --connect-batch connects in flight until all are opened. */
    while (next < o->conns && connecting < o->connect_batch) {
      struct bulk_conn *c = &conns[next++];
      c->fd = open_socket(addr, len);
      if (c->fd < 0) {
        bulk_fail(epfd, c, "socket/connect", errno, &errors);
        failed++;
        settled++;
        continue;
      }
      c->state = kConnecting;
      c->events = EPOLLOUT;
      watch(epfd, EPOLL_CTL_ADD, c->fd, EPOLLOUT, c);
      connecting++;
      open_now++;
      if (open_now > peak_open) peak_open = open_now;
    }
    if (!released && settled == o->conns) {
      /* Everyone is connected: start them all streaming at once. */
      released = 1;
      stream_begin = now_seconds();
      for (int i = 0; i < o->conns; i++) {
        if (conns[i].state == kWaiting) {
          conns[i].state = kStreaming;
          bulk_watch(epfd, &conns[i], EPOLLIN | EPOLLOUT);
        }
      }
    }
    double t = now_seconds();
    if (t >= deadline) break;
    int n = epoll_wait(epfd, events, kMaxEvents, (int)((deadline - t) * 1000) + 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      errors++;
      break;
    }
    for (int e = 0; e < n; e++) {
      struct bulk_conn *c = events[e].data.ptr;
      if (c->fd < 0) continue;
      if (c->state == kConnecting) {
        int err = connect_result(c->fd);
        connecting--;
        settled++;
        if (err != 0) {
          bulk_fail(epfd, c, "connect", err, &errors);
          failed++;
          open_now--;
          continue;
        }
        /* Wait for the others with nothing registered but errors. */
        c->state = kWaiting;
        bulk_watch(epfd, c, EPOLLIN);
        continue;
      }
      if (c->state == kWaiting) {
        /* The server should say nothing before we do. */
        bulk_fail(epfd, c, "readable before sending (reset or unexpected data)", 0, &errors);
        failed++;
        open_now--;
        continue;
      }
      const char *failure = NULL;
      int err = 0;
      if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        for (;;) {
          ssize_t r = read(c->fd, in, kStreamChunk);
          if (r > 0) {
            if (c->received + (uint64_t)r > c->sent) {
              failure = "more bytes came back than were sent";
              break;
            }
            c->sum_received = fnv1a(c->sum_received, in, (size_t)r);
            c->received += (uint64_t)r;
            bytes_received += (uint64_t)r;
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && errno == EAGAIN) break;
          failure = r == 0 ? "early EOF" : "read";
          err = r == 0 ? 0 : errno;
          break;
        }
      }
      while (failure == NULL && c->sent < c->total) {
        uint64_t left = c->total - c->sent;
        size_t chunk = left < kBulkChunk ? (size_t)left : kBulkChunk;
        fill_random(c->seed, c->sent, out, chunk);
        ssize_t w = write(c->fd, out, chunk);
        if (w < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN) {
            failure = "write";
            err = errno;
          }
          break;
        }
        c->sum_sent = fnv1a(c->sum_sent, out, (size_t)w);
        c->sent += (uint64_t)w;
        bytes_sent += (uint64_t)w;
      }
      if (failure == NULL && c->received == c->total) {
        if (c->sum_received != c->sum_sent) {
          checksum_errors++;
          failure = "checksum of the echo differs from the checksum of what was sent";
        } else {
          epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          c->fd = -1;
          c->state = kDone;
          done++;
          open_now--;
          continue;
        }
      }
      if (failure != NULL) {
        bulk_fail(epfd, c, failure, err, &errors);
        failed++;
        open_now--;
        continue;
      }
      bulk_watch(epfd, c, EPOLLIN | (c->sent < c->total ? EPOLLOUT : 0));
    }
  }
  double end = now_seconds();
  int unfinished = o->conns - done - failed;
  if (unfinished > 0) {
    fprintf(stderr, "asyncuv-echo-client: bulk: %d connections unfinished at the time limit\n",
            unfinished);
    errors += unfinished;
  }
  double elapsed = end - stream_begin;
  if (elapsed <= 0) elapsed = 1e-9;
  double rate = (double)bytes_received / elapsed;
  printf("{\"mode\": \"bulk\", \"conns\": %d, \"peak_open\": %d, \"verified\": %d, "
         "\"bytes_sent\": %llu, \"bytes\": %llu, \"connect_seconds\": %.3f, \"seconds\": %.3f, "
         "\"rate\": %.1f, \"mb_per_s\": %.1f, \"checksum_errors\": %ld, \"errors\": %ld}\n",
         o->conns, peak_open, done, (unsigned long long)bytes_sent,
         (unsigned long long)bytes_received, stream_begin - begin, elapsed, rate, rate / 1e6,
         checksum_errors, errors);
  for (int i = 0; i < o->conns; i++) {
    if (conns[i].fd >= 0) close(conns[i].fd);
  }
  free(in);
  free(out);
  free(conns);
  close(epfd);
  return errors == 0 && done == o->conns ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* sink and source: one blocking connection, the slow or the fast side       */

static int connect_blocking(const struct sockaddr_storage *addr, socklen_t len, double seconds) {
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* Every blocking call gives up after the time limit: the mode ends by
   * itself even if the peer under test hangs. */
  struct timeval tv = {.tv_sec = (time_t)seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, (const struct sockaddr *)addr, len) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

static int report_one(const char *mode, uint64_t bytes, double elapsed, const char *failure,
                      int err) {
  if (elapsed <= 0) elapsed = 1e-9;
  if (failure != NULL) {
    fprintf(stderr, "asyncuv-echo-client: %s: %s%s%s\n", mode, failure, err ? ": " : "",
            err ? strerror(err) : "");
  }
  double rate = (double)bytes / elapsed;
  printf("{\"mode\": \"%s\", \"bytes\": %llu, \"seconds\": %.3f, \"rate\": %.1f, "
         "\"mb_per_s\": %.1f, \"conns\": 1, \"errors\": %d}\n",
         mode, (unsigned long long)bytes, elapsed, rate, rate / 1e6, failure != NULL);
  return failure != NULL;
}

static int run_sink(const struct options *o, const struct sockaddr_storage *addr, socklen_t len) {
  unsigned char *in = malloc(o->read_size);
  unsigned char *pattern = malloc(o->read_size + kPatternPeriod);
  if (in == NULL || pattern == NULL) return 1;
  for (size_t k = 0; k < o->read_size + kPatternPeriod; k++) {
    pattern[k] = (unsigned char)(k % kPatternPeriod);
  }
  double begin = now_seconds();
  const char *failure = NULL;
  int err = 0;
  uint64_t received = 0;
  int fd = connect_blocking(addr, len, o->seconds);
  if (fd < 0) {
    failure = "connect";
    err = errno;
  }
  struct timespec pause = {.tv_sec = (time_t)(o->interval_ms / 1000),
                           .tv_nsec = (long)(((long long)(o->interval_ms * 1e6)) % 1000000000)};
  while (failure == NULL) {
    if (now_seconds() - begin > o->seconds) {
      failure = "time limit reached before EOF";
      break;
    }
    ssize_t r = read(fd, in, o->read_size);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      failure = "read";
      err = errno;
      break;
    }
    if (memcmp(in, pattern + received % kPatternPeriod, (size_t)r) != 0) {
      failure = "bytes differ from the k mod 251 pattern";
      break;
    }
    received += (uint64_t)r;
    nanosleep(&pause, NULL);
  }
  if (fd >= 0) close(fd);
  free(in);
  free(pattern);
  return report_one("sink", received, now_seconds() - begin, failure, err);
}

static int run_source(const struct options *o, const struct sockaddr_storage *addr,
                      socklen_t len) {
  unsigned char *pattern = malloc(kStreamChunk + kPatternPeriod);
  if (pattern == NULL) return 1;
  for (size_t k = 0; k < kStreamChunk + kPatternPeriod; k++) {
    pattern[k] = (unsigned char)(k % kPatternPeriod);
  }
  double begin = now_seconds();
  const char *failure = NULL;
  int err = 0;
  uint64_t sent = 0;
  int fd = connect_blocking(addr, len, o->seconds);
  if (fd < 0) {
    failure = "connect";
    err = errno;
  }
  while (failure == NULL && sent < o->bytes) {
    size_t chunk = o->bytes - sent < kStreamChunk ? (size_t)(o->bytes - sent) : kStreamChunk;
    ssize_t w = write(fd, pattern + sent % kPatternPeriod, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      failure = "write";
      err = errno;
      break;
    }
    sent += (uint64_t)w;
  }
  if (failure == NULL) {
    /* Tell the peer we are done, then wait for it to close. */
    shutdown(fd, SHUT_WR);
    unsigned char sinkhole[4096];
    for (;;) {
      ssize_t r = read(fd, sinkhole, sizeof(sinkhole));
      if (r == 0) break;
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        failure = "waiting for the peer to close";
        err = errno;
        break;
      }
    }
  }
  double elapsed = now_seconds() - begin;
  if (fd >= 0) close(fd);
  free(pattern);
  return report_one("source", sent, elapsed, failure, err);
}

int main(int argc, char **argv) {
  struct options o;
  parse_args(argc, argv, &o);
  /* A server that resets a connection must show up as an error, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_storage addr;
  socklen_t len;
  if (resolve(o.host, o.port, &addr, &len) != 0) return 2;
  int rc = o.stream   ? run_stream(&o, &addr, len)
           : o.bulk   ? run_bulk(&o, &addr, len)
           : o.sink   ? run_sink(&o, &addr, len)
           : o.source ? run_source(&o, &addr, len)
                    : run_pingpong(&o, &addr, len);
  fflush(stdout);
  return rc;
}
