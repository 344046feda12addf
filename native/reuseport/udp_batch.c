/*
 * Batched UDP for the SIP transport (docs/PERFORMANCE.md, "Batched UDP"):
 * one recvmmsg(2) reads up to SLOTS datagrams and hands them to JavaScript
 * in one call; one sendmmsg(2) sends every datagram that JavaScript queued
 * during a turn of the event loop. Node's dgram makes a call into
 * JavaScript for every datagram received and a system call plus a request
 * object for every datagram sent; on loopback each of those sends also
 * wakes the receiver. The socket is watched by a uv_poll_t on Node's own
 * loop, so everything still runs on the main thread.
 *
 * JavaScript owns the memory: the inbox (SLOTS * SLOT_BYTES bytes), the
 * receive table (Int32Array, RECV_FIELDS per slot) and the address texts
 * (SLOTS * NAME_BYTES bytes) are passed to udpStart and referenced until
 * udpClose. Receive table of slot i: [length, family (4|6), port,
 * textLength, address bytes (16: 4 used for IPv4)]. Send table of message
 * i: [offset, length, family, port, address bytes (16)].
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define SLOTS 32
#define SLOT_BYTES 65536
#define NAME_BYTES 48
#define RECV_FIELDS 8
#define SEND_FIELDS 8
/* Batches read per readiness before other handles get their turn. */
#define MAX_ROUNDS 2
#define SEND_CHUNK 64

typedef struct {
  napi_env env;
  int fd;
  int closing;
  uv_poll_t poll;
  int events;
  napi_ref on_batch;   /* (count: number) => void; count < 0 is a negative errno */
  napi_ref on_writable;
  napi_ref inbox_ref, table_ref, names_ref, resource;
  napi_async_context async;
  uint8_t *inbox;
  int32_t *table;
  char *names;
  struct mmsghdr msgs[SLOTS];
  struct iovec iov[SLOTS];
  struct sockaddr_storage from[SLOTS];
} udp_socket;

static int throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return 0;
}

static napi_value int_value(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* Fills `ss` from a family and 4 or 16 address bytes; the length, or 0. */
static socklen_t to_sockaddr(struct sockaddr_storage *ss, int family, int port, const uint8_t *addr) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    memcpy(&v4->sin_addr, addr, 4);
    return sizeof *v4;
  }
  if (family == 6) {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    memcpy(&v6->sin6_addr, addr, 16);
    return sizeof *v6;
  }
  return 0;
}

/* udpOpen(address, port, bufferBytes, reusePort) -> non-blocking bound fd, or a negative errno */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  char addr[64] = { 0 };
  size_t len;
  int32_t port, buffer;
  bool reuse;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_get_value_int32(env, argv[2], &buffer) != napi_ok ||
      napi_get_value_bool(env, argv[3], &reuse) != napi_ok || port < 0 || port > 65535) {
    throw_type(env, "udpOpen(address, port 0..65535, bufferBytes, reusePort)");
    return NULL;
  }
  uint8_t bytes[16];
  int family = inet_pton(AF_INET, addr, bytes) == 1 ? 4 : inet_pton(AF_INET6, addr, bytes) == 1 ? 6 : 0;
  struct sockaddr_storage ss;
  socklen_t sslen = to_sockaddr(&ss, family, port, bytes);
  if (sslen == 0) return int_value(env, -EINVAL);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1, err = 0;
  if (fd < 0) err = errno;
  else if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) err = errno;
  else if (buffer > 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer) < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer) < 0)) err = errno;
  else if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) err = errno;
  if (err != 0) {
    if (fd >= 0) close(fd);
    return int_value(env, -err);
  }
  return int_value(env, fd);
}

/* udpLocalPort(fd) -> the bound port, or a negative errno */
static napi_value udp_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    throw_type(env, "udpLocalPort(fd)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) return int_value(env, -errno);
  return int_value(env, ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port));
}

/* packAddress(text, out Uint8Array(16)) -> 4 or 6 (the family written to out), or 0 if not an IP literal */
static napi_value pack_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char addr[64] = { 0 };
  size_t len, out_len;
  void *out;
  napi_typedarray_type type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &len) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &out_len, &out, NULL, NULL) != napi_ok || type != napi_uint8_array || out_len < 16) {
    throw_type(env, "packAddress(text, Uint8Array(16))");
    return NULL;
  }
  if (inet_pton(AF_INET, addr, out) == 1) return int_value(env, 4);
  if (inet_pton(AF_INET6, addr, out) == 1) return int_value(env, 6);
  return int_value(env, 0);
}

static void call_js(udp_socket *s, napi_ref fn_ref, int32_t arg) {
  napi_env env = s->env;
  napi_value fn, recv, argv[1], result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  /* napi_make_callback needs an object as `this`: the async resource. */
  if (napi_get_reference_value(env, s->resource, &recv) != napi_ok || recv == NULL) return;
  argv[0] = int_value(env, arg);
  if (napi_make_callback(env, s->async, recv, fn, 1, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

static void read_batches(udp_socket *s) {
  for (int round = 0; round < MAX_ROUNDS && !s->closing; round++) {
    for (int i = 0; i < SLOTS; i++) {
      s->iov[i].iov_base = s->inbox + (size_t)i * SLOT_BYTES;
      s->iov[i].iov_len = SLOT_BYTES;
      memset(&s->msgs[i].msg_hdr, 0, sizeof s->msgs[i].msg_hdr);
      s->msgs[i].msg_hdr.msg_name = &s->from[i];
      s->msgs[i].msg_hdr.msg_namelen = sizeof s->from[i];
      s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
      s->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(s->fd, s->msgs, SLOTS, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) call_js(s, s->on_batch, -errno);
      return;
    }
    for (int i = 0; i < n; i++) {
      int32_t *row = s->table + i * RECV_FIELDS;
      char *name = s->names + i * NAME_BYTES;
      row[0] = (int32_t)s->msgs[i].msg_len;
      if (s->from[i].ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s->from[i];
        row[1] = 6;
        row[2] = ntohs(v6->sin6_port);
        memcpy(&row[4], &v6->sin6_addr, 16);
        row[3] = inet_ntop(AF_INET6, &v6->sin6_addr, name, NAME_BYTES) ? (int32_t)strlen(name) : 0;
      } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&s->from[i];
        row[1] = 4;
        row[2] = ntohs(v4->sin_port);
        memset(&row[4], 0, 16);
        memcpy(&row[4], &v4->sin_addr, 4);
        row[3] = inet_ntop(AF_INET, &v4->sin_addr, name, NAME_BYTES) ? (int32_t)strlen(name) : 0;
      }
    }
    call_js(s, s->on_batch, n);
    if (n < SLOTS) return;
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  udp_socket *s = handle->data;
  napi_handle_scope scope;
  if (s->closing) return;
  napi_open_handle_scope(s->env, &scope);
  if (status < 0) {
    call_js(s, s->on_batch, status);
  } else {
    if ((events & UV_WRITABLE) && !s->closing) {
      s->events = UV_READABLE;
      uv_poll_start(&s->poll, s->events, on_poll);
      call_js(s, s->on_writable, 0);
    }
    if ((events & UV_READABLE) && !s->closing) read_batches(s);
  }
  napi_close_handle_scope(s->env, scope);
}

static void on_closed(uv_handle_t *handle) {
  free(handle->data);
}

static udp_socket *socket_of(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) return NULL;
  udp_socket *s = data;
  return s->closing ? NULL : s;
}

/* udpStart(fd, inbox Buffer, table Int32Array, names Buffer, onBatch, onWritable) -> handle */
static napi_value udp_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int32_t fd;
  void *inbox, *names, *table;
  size_t inbox_len, names_len, table_len;
  napi_typedarray_type type;
  napi_valuetype t4, t5;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &inbox, &inbox_len) != napi_ok || inbox_len < (size_t)SLOTS * SLOT_BYTES ||
      napi_get_typedarray_info(env, argv[2], &type, &table_len, &table, NULL, NULL) != napi_ok || type != napi_int32_array || table_len < SLOTS * RECV_FIELDS ||
      napi_get_buffer_info(env, argv[3], &names, &names_len) != napi_ok || names_len < SLOTS * NAME_BYTES ||
      napi_typeof(env, argv[4], &t4) != napi_ok || t4 != napi_function || napi_typeof(env, argv[5], &t5) != napi_ok || t5 != napi_function) {
    throw_type(env, "udpStart(fd, inbox, table, names, onBatch, onWritable): buffers too small or wrong types");
    return NULL;
  }
  udp_socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    napi_throw_error(env, NULL, "udpStart: out of memory");
    return NULL;
  }
  uv_loop_t *loop;
  napi_value name, resource, handle;
  s->env = env;
  s->fd = fd;
  s->inbox = inbox;
  s->table = table;
  s->names = names;
  s->events = UV_READABLE;
  napi_create_reference(env, argv[1], 1, &s->inbox_ref);
  napi_create_reference(env, argv[2], 1, &s->table_ref);
  napi_create_reference(env, argv[3], 1, &s->names_ref);
  napi_create_reference(env, argv[4], 1, &s->on_batch);
  napi_create_reference(env, argv[5], 1, &s->on_writable);
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &s->resource);
  napi_create_string_utf8(env, "thor.udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &s->async);
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    napi_throw_error(env, NULL, "udpStart: cannot watch the socket");
    return NULL;
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, s->events, on_poll);
  napi_create_external(env, s, NULL, NULL, &handle);
  return handle;
}

/* udpWantWritable(handle): onWritable is called once when the socket can take more */
static napi_value udp_want_writable(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  udp_socket *s = socket_of(env, argv[0]);
  if (s != NULL && !(s->events & UV_WRITABLE)) {
    s->events = UV_READABLE | UV_WRITABLE;
    uv_poll_start(&s->poll, s->events, on_poll);
  }
  return NULL;
}

/*
 * udpSend(handle, outbox Buffer, table Int32Array, from, to) -> how many of
 * the messages from..to-1 went out (> 0), or the negative errno of message
 * `from` (then nothing was sent). One sendmmsg per SEND_CHUNK messages.
 */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  void *outbox, *table_data;
  size_t outbox_len, table_len;
  napi_typedarray_type type;
  int32_t from, to;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_buffer_info(env, argv[1], &outbox, &outbox_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &type, &table_len, &table_data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      napi_get_value_int32(env, argv[3], &from) != napi_ok || napi_get_value_int32(env, argv[4], &to) != napi_ok ||
      from < 0 || to < from || (size_t)to * SEND_FIELDS > table_len) {
    throw_type(env, "udpSend(handle, outbox, table, from, to)");
    return NULL;
  }
  udp_socket *s = socket_of(env, argv[0]);
  if (s == NULL) return int_value(env, -EBADF);
  const int32_t *table = table_data;
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  struct sockaddr_storage dest[SEND_CHUNK];
  int32_t sent = 0;
  while (from + sent < to) {
    int k = 0;
    for (; k < SEND_CHUNK && from + sent + k < to; k++) {
      const int32_t *row = table + (size_t)(from + sent + k) * SEND_FIELDS;
      int32_t offset = row[0], length = row[1];
      socklen_t len = to_sockaddr(&dest[k], row[2], row[3], (const uint8_t *)&row[4]);
      if (offset < 0 || length < 0 || (size_t)offset + (size_t)length > outbox_len || len == 0 || row[3] < 1 || row[3] > 65535) {
        if (k == 0) return sent > 0 ? int_value(env, sent) : int_value(env, -EINVAL);
        break;
      }
      iov[k].iov_base = (uint8_t *)outbox + offset;
      iov[k].iov_len = (size_t)length;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_name = &dest[k];
      msgs[k].msg_hdr.msg_namelen = len;
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(s->fd, msgs, (unsigned int)k, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      return sent > 0 ? int_value(env, sent) : int_value(env, -errno);
    }
    sent += r;
    if (r < k) break;
  }
  return int_value(env, sent);
}

/* udpClose(handle): stops watching, closes the socket; JavaScript is not called again */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  udp_socket *s = socket_of(env, argv[0]);
  if (s == NULL) return NULL;
  s->closing = 1;
  /* Stopping drops the descriptor from the loop's pending events too, so it can be closed now: the port is free when this returns. */
  uv_poll_stop(&s->poll);
  close(s->fd);
  napi_async_destroy(env, s->async);
  napi_delete_reference(env, s->inbox_ref);
  napi_delete_reference(env, s->table_ref);
  napi_delete_reference(env, s->names_ref);
  napi_delete_reference(env, s->on_batch);
  napi_delete_reference(env, s->on_writable);
  napi_delete_reference(env, s->resource);
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

napi_value thor_udp_batch_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_default, NULL },
    { "udpLocalPort", NULL, udp_local_port, NULL, NULL, NULL, napi_default, NULL },
    { "packAddress", NULL, pack_address, NULL, NULL, NULL, napi_default, NULL },
    { "udpStart", NULL, udp_start, NULL, NULL, NULL, napi_default, NULL },
    { "udpWantWritable", NULL, udp_want_writable, NULL, NULL, NULL, napi_default, NULL },
    { "udpSend", NULL, udp_send, NULL, NULL, NULL, napi_default, NULL },
    { "udpClose", NULL, udp_close, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
