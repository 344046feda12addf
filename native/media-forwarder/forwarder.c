/*
 * The media relay's native data path: RTP/RTCP forwarding for the legs of
 * the built-in relay (src/media/relay.ts), in a thread of its own.
 *
 * JavaScript keeps the control plane (sessions, ports, SDP, expiry); this
 * file does only what happens per packet, with the same rules as the
 * JavaScript legs in src/media/session.ts and src/media/stream-stats.ts:
 * classification (RFC 3550 5.1/6.4, RFC 5761 4), symmetric latching,
 * the per-second flood limit, receiver statistics (RFC 3550 A.1, A.3, A.8)
 * and forwarding to the peer leg's party only.
 *
 * Why native: Node's dgram costs a Buffer, a rinfo object, a callback and a
 * send request per datagram; a G.711 call is 200 datagrams per second, so
 * a relay in JavaScript carries about a third of what rtpengine carries on
 * one core. Here a packet costs one recvmmsg slot and one sendmmsg slot.
 *
 * Threading: one forwarding thread per engine, one mutex. The thread holds
 * the mutex while it handles a batch of ready sockets; control calls from
 * the JavaScript thread take it for a few microseconds. Leg slots carry a
 * generation so an event for a leg closed in between is ignored.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define MAX_EVENTS 256
#define PACKET_MAX 65536
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define SEQ_MOD 0x10000

enum { KIND_INVALID = 0, KIND_RTP = 1, KIND_RTCP = 2 };

typedef struct {
  double packets, bytes;
  int64_t ssrc; /* -1: none yet */
  uint32_t base_seq, max_seq, cycles, received;
  double transit, jitter, clock_rate;
  int reported;
  double reported_fraction, reported_jitter;
} stats_t;

typedef struct {
  int used;
  uint32_t gen;
  int fd[2]; /* 0: RTP, 1: RTCP */
  int port;
  int peer; /* leg index, -1 none */
  int has_sdp, rtcp_mux;
  struct sockaddr_storage sdp_rtp, sdp_rtcp;
  socklen_t sdp_len;
  int latched, rtcp_latched;
  struct sockaddr_storage lat_rtp, lat_rtcp;
  socklen_t lat_len, lat_rtcp_len;
  int64_t window_sec;
  uint32_t window_count;
  double last_packet_ms; /* 0: never */
  stats_t st;
  double dropped_invalid, dropped_unknown, dropped_flood, dropped_nodest;
} leg_t;

typedef struct {
  pthread_mutex_t mu;
  pthread_t thread;
  int running;
  int ep, wake;
  leg_t *legs;
  int nlegs, cap;
  uint32_t flood_pps;
  double relayed_packets, relayed_bytes, invalid, unknown, flood, nodest;
} engine_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- packet rules (mirrors src/media/rtp-codec.ts) ---- */

static int classify(const uint8_t *p, size_t n) {
  if (n < 8 || (p[0] & 0xc0) != 0x80) return KIND_INVALID;
  uint8_t second = p[1];
  if (second >= 192 && second <= 223) {
    size_t words = ((size_t)p[2] << 8) | p[3];
    return (words + 1) * 4 <= n ? KIND_RTCP : KIND_INVALID;
  }
  if (n < 12) return KIND_INVALID;
  size_t cc = p[0] & 0x0f;
  return 12 + cc * 4 <= n ? KIND_RTP : KIND_INVALID;
}

static void rtcp_report(stats_t *s, const uint8_t *p, size_t n) {
  size_t off = 0;
  for (int i = 0; i < 8 && off + 8 <= n; i++) {
    if ((p[off] & 0xc0) != 0x80) return;
    unsigned rc = p[off] & 0x1f;
    unsigned pt = p[off + 1];
    size_t len = ((((size_t)p[off + 2]) << 8 | p[off + 3]) + 1) * 4;
    if (off + len > n) return;
    long block = pt == 200 ? (long)off + 28 : pt == 201 ? (long)off + 8 : -1;
    if (block >= 0 && rc > 0 && (size_t)block + 24 <= off + len) {
      const uint8_t *b = p + block;
      s->reported = 1;
      s->reported_fraction = b[4] / 256.0;
      s->reported_jitter = (double)(((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15]);
      return;
    }
    off += len;
  }
}

static void on_rtp(stats_t *s, const uint8_t *p, size_t n, double arrival_ms) {
  s->packets++;
  s->bytes += (double)n;
  uint32_t seq = ((uint32_t)p[2] << 8) | p[3];
  uint32_t ts = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
  int64_t ssrc = (int64_t)(((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11]);
  double transit = arrival_ms * s->clock_rate / 1000.0 - (double)ts;
  if (ssrc != s->ssrc) {
    s->ssrc = ssrc;
    s->base_seq = seq;
    s->max_seq = seq;
    s->cycles = 0;
    s->received = 1;
    s->transit = transit;
    return;
  }
  uint32_t delta = (seq - s->max_seq + SEQ_MOD) % SEQ_MOD;
  if (delta > 0 && delta < MAX_DROPOUT) {
    if (seq < s->max_seq) s->cycles += SEQ_MOD;
    s->max_seq = seq;
  } else if (delta == 0 || SEQ_MOD - delta <= MAX_MISORDER) {
    /* duplicate or misordered */
  } else {
    s->base_seq = seq;
    s->max_seq = seq;
    s->cycles = 0;
    s->received = 0;
  }
  s->received++;
  double d = transit - s->transit;
  if (d < 0) d = -d;
  s->transit = transit;
  s->jitter += (d - s->jitter) / 16.0;
}

static double stats_lost(const stats_t *s) {
  if (s->ssrc < 0) return 0;
  double expected = (double)s->cycles + (double)s->max_seq - (double)s->base_seq + 1;
  double lost = expected - (double)s->received;
  return lost > 0 ? lost : 0;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* ---- forwarding ---- */

/* Per forwarding thread: the receive batch and the send batch. */
typedef struct {
  uint8_t in[BATCH][PACKET_MAX];
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_storage from[BATCH];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage to[BATCH];
  int fd[BATCH];
  int n;
} work_t;

static void flush(work_t *o) {
  int i = 0;
  while (i < o->n) {
    int j = i + 1;
    while (j < o->n && o->fd[j] == o->fd[i]) j++;
    int k = i;
    while (k < j) {
      int sent = sendmmsg(o->fd[i], &o->msgs[k], (unsigned)(j - k), MSG_DONTWAIT);
      if (sent <= 0) break; /* a full socket buffer drops the rest, as a router would */
      k += sent;
    }
    i = j;
  }
  o->n = 0;
}

static void queue(work_t *o, int fd, uint8_t *buf, size_t len, const struct sockaddr_storage *to, socklen_t tolen) {
  int i = o->n++;
  memcpy(&o->to[i], to, tolen);
  o->iov[i].iov_base = buf;
  o->iov[i].iov_len = len;
  memset(&o->msgs[i].msg_hdr, 0, sizeof(o->msgs[i].msg_hdr));
  o->msgs[i].msg_hdr.msg_name = &o->to[i];
  o->msgs[i].msg_hdr.msg_namelen = tolen;
  o->msgs[i].msg_hdr.msg_iov = &o->iov[i];
  o->msgs[i].msg_hdr.msg_iovlen = 1;
  o->fd[i] = fd;
}

static int admit(engine_t *e, leg_t *l, const struct sockaddr_storage *from, socklen_t fromlen, int rtcp, double now) {
  if (rtcp) {
    if (!l->rtcp_latched) {
      if (l->latched && !same_host(from, &l->lat_rtp)) goto unknown;
      memcpy(&l->lat_rtcp, from, fromlen);
      l->lat_rtcp_len = fromlen;
      l->rtcp_latched = 1;
    } else if (!same_addr(from, &l->lat_rtcp)) goto unknown;
  } else if (!l->latched) {
    memcpy(&l->lat_rtp, from, fromlen);
    l->lat_len = fromlen;
    l->latched = 1;
  } else if (!same_addr(from, &l->lat_rtp)) goto unknown;
  int64_t second = (int64_t)(now / 1000.0);
  if (second != l->window_sec) {
    l->window_sec = second;
    l->window_count = 0;
  }
  if (++l->window_count > e->flood_pps) {
    l->dropped_flood++;
    e->flood++;
    return 0;
  }
  l->last_packet_ms = now;
  return 1;
unknown:
  l->dropped_unknown++;
  e->unknown++;
  return 0;
}

static void nowhere(engine_t *e, leg_t *from_leg) {
  from_leg->dropped_nodest++;
  e->nodest++;
}

static void set_port(struct sockaddr_storage *a, const struct sockaddr_storage *port_of) {
  if (a->ss_family == AF_INET) ((struct sockaddr_in *)a)->sin_port = port_of->ss_family == AF_INET ? ((const struct sockaddr_in *)port_of)->sin_port : ((const struct sockaddr_in6 *)port_of)->sin6_port;
  else ((struct sockaddr_in6 *)a)->sin6_port = port_of->ss_family == AF_INET ? ((const struct sockaddr_in *)port_of)->sin_port : ((const struct sockaddr_in6 *)port_of)->sin6_port;
}

/* Send to leg `to`'s party: RTP (and muxed RTCP) to its RTP address, RTCP to its RTCP address. */
static void send_to(engine_t *e, work_t *o, leg_t *from_leg, leg_t *to, int rtcp, uint8_t *buf, size_t len) {
  struct sockaddr_storage dst;
  socklen_t dlen;
  int fd;
  if (!rtcp || to->rtcp_mux) {
    if (to->latched) { dst = to->lat_rtp; dlen = to->lat_len; }
    else if (to->has_sdp) { dst = to->sdp_rtp; dlen = to->sdp_len; }
    else return nowhere(e, from_leg);
    fd = to->fd[0];
  } else {
    if (to->rtcp_latched) { dst = to->lat_rtcp; dlen = to->lat_rtcp_len; }
    else if (to->latched && to->has_sdp) {
      /* the latched host on the port its SDP gave for RTCP */
      dst = to->lat_rtp;
      dlen = to->lat_len;
      set_port(&dst, &to->sdp_rtcp);
    } else if (to->has_sdp) { dst = to->sdp_rtcp; dlen = to->sdp_len; }
    else return nowhere(e, from_leg);
    fd = to->fd[1];
  }
  queue(o, fd, buf, len, &dst, dlen);
  e->relayed_packets++;
  e->relayed_bytes += (double)len;
}

static void handle(engine_t *e, int idx, int rtcp_port, work_t *o) {
  /* a few rounds per wake-up at most, so one busy socket cannot starve the rest */
  for (int round = 0; round < 4; round++) {
    leg_t *l = &e->legs[idx];
    if (!l->used) return;
    for (int i = 0; i < BATCH; i++) {
      o->riov[i].iov_base = o->in[i];
      o->riov[i].iov_len = PACKET_MAX;
      memset(&o->rmsg[i].msg_hdr, 0, sizeof(o->rmsg[i].msg_hdr));
      o->rmsg[i].msg_hdr.msg_name = &o->from[i];
      o->rmsg[i].msg_hdr.msg_namelen = sizeof(o->from[i]);
      o->rmsg[i].msg_hdr.msg_iov = &o->riov[i];
      o->rmsg[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(l->fd[rtcp_port], o->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    double now = now_ms();
    for (int i = 0; i < n; i++) {
      uint8_t *p = o->in[i];
      size_t len = o->rmsg[i].msg_len;
      if (o->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) len = 0;
      int kind = classify(p, len);
      if (kind == KIND_INVALID || (rtcp_port && kind != KIND_RTCP)) {
        l->dropped_invalid++;
        e->invalid++;
        continue;
      }
      if (!admit(e, l, &o->from[i], o->rmsg[i].msg_hdr.msg_namelen, rtcp_port, now)) continue;
      if (kind == KIND_RTCP) {
        l->st.bytes += (double)len;
        rtcp_report(&l->st, p, len);
      } else {
        on_rtp(&l->st, p, len, now);
      }
      leg_t *peer = l->peer >= 0 ? &e->legs[l->peer] : NULL;
      if (!peer || !peer->used) {
        nowhere(e, l);
        continue;
      }
      send_to(e, o, l, peer, kind == KIND_RTCP, p, len);
    }
    flush(o); /* the receive buffers are reused by the next round */
    if (n < BATCH) return;
  }
}

static void *run(void *arg) {
  engine_t *e = arg;
  struct epoll_event ev[MAX_EVENTS];
  work_t *o = calloc(1, sizeof(work_t));
  if (!o) return NULL;
  for (;;) {
    int n = epoll_wait(e->ep, ev, MAX_EVENTS, 1000);
    pthread_mutex_lock(&e->mu);
    if (!e->running) {
      pthread_mutex_unlock(&e->mu);
      break;
    }
    for (int i = 0; i < n; i++) {
      uint64_t d = ev[i].data.u64;
      if (d == UINT64_MAX) {
        uint64_t v;
        if (read(e->wake, &v, sizeof v) < 0) { /* nothing to do */ }
        continue;
      }
      int idx = (int)(d >> 33);
      uint32_t gen = (uint32_t)((d >> 1) & 0xffffffffu);
      int rtcp = (int)(d & 1);
      if (idx >= e->nlegs || !e->legs[idx].used || e->legs[idx].gen != gen) continue;
      handle(e, idx, rtcp, o);
    }
    pthread_mutex_unlock(&e->mu);
  }
  free(o);
  return NULL;
}

/* ---- N-API surface ---- */

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "native media forwarder: " #call " failed"); return NULL; } } while (0)

static engine_t *engine_of(napi_env env, napi_value v) {
  engine_t *e = NULL;
  if (napi_get_value_external(env, v, (void **)&e) != napi_ok || !e) {
    napi_throw_type_error(env, NULL, "not a native media engine");
    return NULL;
  }
  return e;
}

/* The call's arguments (at most `n`, missing ones undefined) and its engine, the first of them. */
static engine_t *call_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "native media forwarder: missing arguments");
    return NULL;
  }
  return engine_of(env, argv[0]);
}

static void stop_engine(engine_t *e) {
  pthread_mutex_lock(&e->mu);
  int was = e->running;
  e->running = 0;
  pthread_mutex_unlock(&e->mu);
  if (!was) return;
  uint64_t one = 1;
  if (write(e->wake, &one, sizeof one) < 0) { /* the thread wakes within a second anyway */ }
  pthread_join(e->thread, NULL);
  for (int i = 0; i < e->nlegs; i++) if (e->legs[i].used) {
    close(e->legs[i].fd[0]);
    close(e->legs[i].fd[1]);
    e->legs[i].used = 0;
  }
  close(e->ep);
  close(e->wake);
}

static void finalize_engine(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  engine_t *e = data;
  stop_engine(e);
  pthread_mutex_destroy(&e->mu);
  free(e->legs);
  free(e);
}

static uint32_t arg_u32(napi_env env, napi_value v) {
  uint32_t x = 0;
  napi_get_value_uint32(env, v, &x);
  return x;
}

/* createEngine(floodPps) */
static napi_value create_engine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = calloc(1, sizeof(engine_t));
  if (!e) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  e->flood_pps = argc > 0 ? arg_u32(env, argv[0]) : 1500;
  pthread_mutex_init(&e->mu, NULL);
  e->ep = epoll_create1(EPOLL_CLOEXEC);
  e->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
  if (e->ep < 0 || e->wake < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->wake, &ev) != 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  e->running = 1;
  if (pthread_create(&e->thread, NULL, run, e) != 0) {
    e->running = 0;
    napi_throw_error(env, NULL, "cannot start the forwarding thread");
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_external(env, e, finalize_engine, NULL, &out));
  return out;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  engine_t *e = call_args(env, info, 1, argv);
  if (e) stop_engine(e);
  return NULL;
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *a4 = (void *)out;
  struct sockaddr_in6 *a6 = (void *)out;
  if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 1;
  }
  if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 1;
  }
  return 0;
}

static int bind_one(const struct sockaddr_storage *a, socklen_t len) {
  int fd = socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (a->ss_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd, (const struct sockaddr *)a, len) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) return 0;
  return n > 0 && n < cap - 1;
}

/* openPair(engine, address, port) -> leg index, or -errno when a port cannot be bound */
static napi_value open_pair(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  engine_t *e = call_args(env, info, 3, argv);
  if (!e) return NULL;
  char addr[64];
  if (!get_string(env, argv[1], addr, sizeof addr)) { napi_throw_type_error(env, NULL, "bad address"); return NULL; }
  uint32_t port = arg_u32(env, argv[2]);
  struct sockaddr_storage a, b;
  socklen_t alen, blen;
  if (port == 0 || port > 65534 || !parse_addr(addr, (int)port, &a, &alen) || !parse_addr(addr, (int)port + 1, &b, &blen)) {
    napi_throw_type_error(env, NULL, "bad address or port");
    return NULL;
  }
  int result;
  int f0 = bind_one(&a, alen);
  int f1 = f0 >= 0 ? bind_one(&b, blen) : -1;
  if (f0 < 0 || f1 < 0) {
    result = -(errno ? errno : EADDRINUSE);
    if (f0 >= 0) close(f0);
  } else {
    pthread_mutex_lock(&e->mu);
    int idx = -1;
    for (int i = 0; i < e->nlegs; i++) if (!e->legs[i].used) { idx = i; break; }
    if (idx < 0) {
      if (e->nlegs == e->cap) {
        int cap = e->cap ? e->cap * 2 : 256;
        leg_t *grown = realloc(e->legs, (size_t)cap * sizeof(leg_t));
        if (!grown) {
          pthread_mutex_unlock(&e->mu);
          close(f0);
          close(f1);
          napi_throw_error(env, NULL, "out of memory");
          return NULL;
        }
        e->legs = grown;
        e->cap = cap;
      }
      idx = e->nlegs++;
      e->legs[idx].gen = 0;
    }
    leg_t *l = &e->legs[idx];
    uint32_t gen = l->gen + 1;
    memset(l, 0, sizeof *l);
    l->gen = gen;
    l->used = 1;
    l->fd[0] = f0;
    l->fd[1] = f1;
    l->port = (int)port;
    l->peer = -1;
    l->st.ssrc = -1;
    l->st.clock_rate = 8000;
    l->window_sec = -1;
    for (int k = 0; k < 2; k++) {
      struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)idx << 33) | ((uint64_t)gen << 1) | (uint64_t)k };
      epoll_ctl(e->ep, EPOLL_CTL_ADD, l->fd[k], &ev);
    }
    pthread_mutex_unlock(&e->mu);
    result = idx;
  }
  napi_value out;
  CHECK(napi_create_int32(env, result, &out));
  return out;
}

static leg_t *leg_arg(napi_env env, engine_t *e, napi_value v, int32_t *out_idx) {
  int32_t idx = -1;
  napi_get_value_int32(env, v, &idx);
  if (idx < 0 || idx >= e->nlegs || !e->legs[idx].used) {
    napi_throw_range_error(env, NULL, "no such media leg");
    return NULL;
  }
  if (out_idx) *out_idx = idx;
  return &e->legs[idx];
}

/* link(engine, a, b): each leg sends what it receives to the other's party */
static napi_value link_legs(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  engine_t *e = call_args(env, info, 3, argv);
  if (!e) return NULL;
  pthread_mutex_lock(&e->mu);
  int32_t ia, ib;
  leg_t *a = leg_arg(env, e, argv[1], &ia);
  leg_t *b = a ? leg_arg(env, e, argv[2], &ib) : NULL;
  if (a && b) {
    a->peer = ib;
    b->peer = ia;
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

/* describe(engine, leg, address|null, port, rtcpPort, rtcpMux, clockRate) */
static napi_value describe(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  engine_t *e = call_args(env, info, 7, argv);
  if (!e) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  char addr[64] = "";
  int has = t == napi_string && get_string(env, argv[2], addr, sizeof addr);
  uint32_t port = arg_u32(env, argv[3]), rtcp_port = arg_u32(env, argv[4]);
  bool mux = false;
  napi_get_value_bool(env, argv[5], &mux);
  double clock_rate = 0;
  napi_get_value_double(env, argv[6], &clock_rate);
  struct sockaddr_storage rtp, rtcp;
  socklen_t len = 0, len2 = 0;
  if (has && (port == 0 || port > 65535 || rtcp_port > 65535 || !parse_addr(addr, (int)port, &rtp, &len) || !parse_addr(addr, (int)rtcp_port, &rtcp, &len2))) has = 0;
  pthread_mutex_lock(&e->mu);
  leg_t *l = leg_arg(env, e, argv[1], NULL);
  if (l) {
    int changed = has != l->has_sdp || (has && !same_addr(&rtp, &l->sdp_rtp));
    if (changed) {
      l->latched = 0;
      l->rtcp_latched = 0;
    }
    l->has_sdp = has;
    if (has) {
      l->sdp_rtp = rtp;
      l->sdp_rtcp = rtcp;
      l->sdp_len = len;
    }
    l->rtcp_mux = mux;
    if (clock_rate > 0) l->st.clock_rate = clock_rate;
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

static napi_value close_leg(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  engine_t *e = call_args(env, info, 2, argv);
  if (!e) return NULL;
  pthread_mutex_lock(&e->mu);
  int32_t idx;
  leg_t *l = leg_arg(env, e, argv[1], &idx);
  if (l) {
    for (int k = 0; k < 2; k++) {
      epoll_ctl(e->ep, EPOLL_CTL_DEL, l->fd[k], NULL);
      close(l->fd[k]);
    }
    l->used = 0;
    for (int i = 0; i < e->nlegs; i++) if (e->legs[i].used && e->legs[i].peer == idx) e->legs[i].peer = -1;
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

static void set_num(napi_env env, napi_value obj, const char *k, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, obj, k, x);
}

static void set_endpoint(napi_env env, napi_value obj, const char *k, const struct sockaddr_storage *a, int present) {
  napi_value x;
  if (!present) {
    napi_get_null(env, &x);
  } else {
    char host[INET6_ADDRSTRLEN];
    char buf[INET6_ADDRSTRLEN + 10];
    if (a->ss_family == AF_INET) {
      const struct sockaddr_in *s = (const void *)a;
      inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
      snprintf(buf, sizeof buf, "%s:%u", host, ntohs(s->sin_port));
    } else {
      const struct sockaddr_in6 *s = (const void *)a;
      inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
      snprintf(buf, sizeof buf, "[%s]:%u", host, ntohs(s->sin6_port));
    }
    napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &x);
  }
  napi_set_named_property(env, obj, k, x);
}

/* legInfo(engine, leg) -> { packets, bytes, lost, jitterMs, reportedLoss?, reportedJitterMs?, latched, remote, idleMs, dropped* } */
static napi_value leg_info(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  engine_t *e = call_args(env, info, 2, argv);
  if (!e) return NULL;
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  pthread_mutex_lock(&e->mu);
  leg_t *l = leg_arg(env, e, argv[1], NULL);
  if (l) {
    const stats_t *s = &l->st;
    set_num(env, obj, "packets", s->packets);
    set_num(env, obj, "bytes", s->bytes);
    set_num(env, obj, "lost", stats_lost(s));
    set_num(env, obj, "jitterMs", s->jitter * 1000.0 / s->clock_rate);
    if (s->reported) {
      set_num(env, obj, "reportedLoss", s->reported_fraction);
      set_num(env, obj, "reportedJitterMs", s->reported_jitter * 1000.0 / s->clock_rate);
    }
    napi_value b;
    napi_get_boolean(env, l->latched, &b);
    napi_set_named_property(env, obj, "latched", b);
    set_endpoint(env, obj, "remote", l->latched ? &l->lat_rtp : &l->sdp_rtp, l->latched || l->has_sdp);
    set_num(env, obj, "idleMs", l->last_packet_ms > 0 ? now_ms() - l->last_packet_ms : -1);
    set_num(env, obj, "invalid", l->dropped_invalid);
    set_num(env, obj, "unknownSource", l->dropped_unknown);
    set_num(env, obj, "flood", l->dropped_flood);
    set_num(env, obj, "noDestination", l->dropped_nodest);
  }
  pthread_mutex_unlock(&e->mu);
  return l ? obj : NULL;
}

/* idleMs(engine, leg) -> ms since the leg last admitted a packet, -1 when it never did */
static napi_value idle_ms(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  engine_t *e = call_args(env, info, 2, argv);
  if (!e) return NULL;
  pthread_mutex_lock(&e->mu);
  leg_t *l = leg_arg(env, e, argv[1], NULL);
  double idle = l && l->last_packet_ms > 0 ? now_ms() - l->last_packet_ms : -1;
  pthread_mutex_unlock(&e->mu);
  if (!l) return NULL;
  napi_value out;
  CHECK(napi_create_double(env, idle, &out));
  return out;
}

/* counters(engine) -> engine-wide counters */
static napi_value counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  engine_t *e = call_args(env, info, 1, argv);
  if (!e) return NULL;
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  pthread_mutex_lock(&e->mu);
  set_num(env, obj, "packetsRelayed", e->relayed_packets);
  set_num(env, obj, "bytesRelayed", e->relayed_bytes);
  set_num(env, obj, "invalid", e->invalid);
  set_num(env, obj, "unknownSource", e->unknown);
  set_num(env, obj, "flood", e->flood);
  set_num(env, obj, "noDestination", e->nodest);
  pthread_mutex_unlock(&e->mu);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "createEngine", NULL, create_engine, NULL, NULL, NULL, napi_default, NULL },
    { "stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL },
    { "openPair", NULL, open_pair, NULL, NULL, NULL, napi_default, NULL },
    { "link", NULL, link_legs, NULL, NULL, NULL, napi_default, NULL },
    { "describe", NULL, describe, NULL, NULL, NULL, napi_default, NULL },
    { "closeLeg", NULL, close_leg, NULL, NULL, NULL, napi_default, NULL },
    { "legInfo", NULL, leg_info, NULL, NULL, NULL, napi_default, NULL },
    { "idleMs", NULL, idle_ms, NULL, NULL, NULL, napi_default, NULL },
    { "counters", NULL, counters, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
