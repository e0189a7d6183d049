// wake-to-write: an LD_PRELOAD shim that measures a server's critical path
// per echo round trip, from the main thread's wake-up in epoll to its write.
//
// Build and run (bench/profile/wake-to-write.sh does both):
//
//   gcc -O2 -shared -fPIC -o /tmp/wake-to-write.so bench/profile/wake-to-write.c -ldl
//   LD_PRELOAD=/tmp/wake-to-write.so node dist/bench/profile/workloads.js echo 3 1
//
// Only a process whose program name is "node" records (the native load
// client, a child, inherits LD_PRELOAD and stays silent), and only its main
// thread (tid == pid). Meaningful at ONE connection (ping-pong): then every
// round trip is one wake-up, one read and one write. At exit it prints, per
// round trip, the distribution (p10/p50/p90/p99/mean, microseconds) of:
//
//   wake->write  the first epoll_wait/epoll_pwait return with events after
//                the previous write, to the entry of the next socket write
//                (write/writev/send/sendmsg of >= 64 bytes): the critical path;
//   wake->epoll2 that return to the entry of a second epoll call (asyncuv's
//                own loop, polled after Node's: 0 when there is none);
//   epoll2       that second epoll call itself (entry to return);
//   epoll2->read its return to the read's entry (libuv's dispatch);
//   wake->read   to the entry of the first read of > 8 bytes (eventfd reads
//                are 8 bytes and are not counted);
//   read         the read syscall itself (entry to return);
//   read->write  the read's return to the write's entry: what user space runs
//                between taking the bytes and sending them back;
//   write        the write syscall itself;
//   epolls       epoll calls per round trip (Node's and ours).
//
// WAKE_TO_WRITE_OUT=<file> appends the summary there instead of stderr, with
// WAKE_TO_WRITE_LABEL as its first field. Timestamps are CLOCK_MONOTONIC
// (vDSO, about 20 ns each, 6 per round trip).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { kSeg = 8, kMax = 1 << 21 };
static const char* const kNames[kSeg] = {"wake->write", "wake->epoll2", "epoll2",      "epoll2->read",
                                         "wake->read",  "read",         "read->write", "write"};
static float* samples[kSeg];
static uint32_t* epolls;
static size_t n;
static int active = -1;

static uint64_t t_wake, t_epoll2, t_epoll2_out, t_read_in, t_read_out;
static uint32_t n_epoll;
static int woke;

static uint64_t now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int on(void) {
  if (active < 0) {
    active = strcmp(program_invocation_short_name, "node") == 0;
    if (active) {
      for (int i = 0; i < kSeg; i++) samples[i] = malloc(sizeof(float) * kMax);
      epolls = malloc(sizeof(uint32_t) * kMax);
      if (epolls == NULL) active = 0;
    }
  }
  return active && syscall(SYS_gettid) == getpid();
}

#define REAL(ret, name, ...)                           \
  static ret (*real_##name)(__VA_ARGS__);              \
  static void load_##name(void) {                      \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name); \
  }

REAL(int, epoll_wait, int, struct epoll_event*, int, int)
REAL(int, epoll_pwait, int, struct epoll_event*, int, int, const sigset_t*)
REAL(ssize_t, read, int, void*, size_t)
REAL(ssize_t, readv, int, const struct iovec*, int)
REAL(ssize_t, recv, int, void*, size_t, int)
REAL(ssize_t, recvmsg, int, struct msghdr*, int)
REAL(ssize_t, write, int, const void*, size_t)
REAL(ssize_t, writev, int, const struct iovec*, int)
REAL(ssize_t, send, int, const void*, size_t, int)
REAL(ssize_t, sendmsg, int, const struct msghdr*, int)

static void epoll_entered(void) {
  if (woke) {
    n_epoll++;
    if (t_epoll2 == 0) t_epoll2 = now();
  }
}

static void epoll_returned(int r) {
  if (woke && t_epoll2 != 0 && t_epoll2_out == 0) t_epoll2_out = now();
  if (r > 0 && !woke) {
    woke = 1;
    t_wake = now();
    n_epoll = 1;
    t_epoll2 = t_epoll2_out = t_read_in = t_read_out = 0;
  }
}

static uint64_t read_entered(void) { return now(); }

static void read_returned(uint64_t t_in, ssize_t r) {
  if (r > 8 && woke && t_read_in == 0) {
    t_read_in = t_in;
    t_read_out = now();
  }
}

static uint64_t write_entered(size_t len) {
  if (len < 64 || !woke) return 0;
  return now();
}

static void write_returned(uint64_t t_in) {
  if (t_in == 0) return;
  uint64_t t_out = now();
  if (n < kMax && t_read_in != 0) {
    samples[0][n] = (float)(t_in - t_wake) / 1000.f;
    samples[1][n] = t_epoll2 ? (float)(t_epoll2 - t_wake) / 1000.f : 0.f;
    samples[2][n] = t_epoll2 ? (float)(t_epoll2_out - t_epoll2) / 1000.f : 0.f;
    samples[3][n] = t_epoll2 ? (float)(t_read_in - t_epoll2_out) / 1000.f : 0.f;
    samples[4][n] = (float)(t_read_in - t_wake) / 1000.f;
    samples[5][n] = (float)(t_read_out - t_read_in) / 1000.f;
    samples[6][n] = (float)(t_in - t_read_out) / 1000.f;
    samples[7][n] = (float)(t_out - t_in) / 1000.f;
    epolls[n] = n_epoll;
    n++;
  }
  woke = 0;
}

int epoll_wait(int fd, struct epoll_event* ev, int max, int timeout) {
  load_epoll_wait();
  if (!on()) return real_epoll_wait(fd, ev, max, timeout);
  epoll_entered();
  int r = real_epoll_wait(fd, ev, max, timeout);
  epoll_returned(r);
  return r;
}

int epoll_pwait(int fd, struct epoll_event* ev, int max, int timeout, const sigset_t* mask) {
  load_epoll_pwait();
  if (!on()) return real_epoll_pwait(fd, ev, max, timeout, mask);
  epoll_entered();
  int r = real_epoll_pwait(fd, ev, max, timeout, mask);
  epoll_returned(r);
  return r;
}

#define READ_BODY(name, ...)              \
  load_##name();                          \
  if (!on()) return real_##name(__VA_ARGS__); \
  uint64_t t = read_entered();            \
  ssize_t r = real_##name(__VA_ARGS__);   \
  int saved = errno;                      \
  read_returned(t, r);                    \
  errno = saved;                          \
  return r;

ssize_t read(int fd, void* buf, size_t len) { READ_BODY(read, fd, buf, len) }
ssize_t readv(int fd, const struct iovec* iov, int cnt) { READ_BODY(readv, fd, iov, cnt) }
ssize_t recv(int fd, void* buf, size_t len, int fl) { READ_BODY(recv, fd, buf, len, fl) }
ssize_t recvmsg(int fd, struct msghdr* m, int fl) { READ_BODY(recvmsg, fd, m, fl) }

static size_t iov_len(const struct iovec* iov, int cnt) {
  size_t len = 0;
  for (int i = 0; i < cnt; i++) len += iov[i].iov_len;
  return len;
}

#define WRITE_BODY(name, len, ...)        \
  load_##name();                          \
  if (!on()) return real_##name(__VA_ARGS__); \
  uint64_t t = write_entered(len);        \
  ssize_t r = real_##name(__VA_ARGS__);   \
  int saved = errno;                      \
  write_returned(t);                      \
  errno = saved;                          \
  return r;

ssize_t write(int fd, const void* buf, size_t len) { WRITE_BODY(write, len, fd, buf, len) }
ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  WRITE_BODY(writev, iov_len(iov, cnt), fd, iov, cnt)
}
ssize_t send(int fd, const void* buf, size_t len, int fl) { WRITE_BODY(send, len, fd, buf, len, fl) }
ssize_t sendmsg(int fd, const struct msghdr* m, int fl) {
  WRITE_BODY(sendmsg, iov_len(m->msg_iov, (int)m->msg_iovlen), fd, m, fl)
}

static int cmp_float(const void* a, const void* b) {
  float x = *(const float*)a, y = *(const float*)b;
  return (x > y) - (x < y);
}

__attribute__((destructor)) static void report(void) {
  if (active != 1 || n == 0) return;
  FILE* out = stderr;
  const char* path = getenv("WAKE_TO_WRITE_OUT");
  if (path != NULL) out = fopen(path, "a");
  if (out == NULL) return;
  const char* label = getenv("WAKE_TO_WRITE_LABEL");
  fprintf(out, "%s: %zu round trips, us per round trip: p10 p50 p90 p99 mean\n",
          label ? label : "wake-to-write", n);
  // Drop the first 10% (warm-up, JIT tiering).
  size_t skip = n / 10, m = n - skip;
  for (int s = 0; s < kSeg; s++) {
    float* v = samples[s] + skip;
    double sum = 0;
    for (size_t i = 0; i < m; i++) sum += v[i];
    qsort(v, m, sizeof(float), cmp_float);
    fprintf(out, "  %-12s %7.2f %7.2f %7.2f %7.2f %7.2f\n", kNames[s], v[m / 10], v[m / 2],
            v[m * 9 / 10], v[m * 99 / 100], sum / (double)m);
  }
  double e = 0;
  for (size_t i = skip; i < n; i++) e += epolls[i];
  fprintf(out, "  %-12s %.2f per round trip\n", "epolls", e / (double)m);
  if (out != stderr) fclose(out);
}
