/*
 * Sockets that several worker processes of one host bind to the same
 * address and port (SO_REUSEPORT, Linux 3.9+): the kernel spreads the
 * datagrams (and TCP connections) over the group by a hash of the
 * 4-tuple, so one client always reaches the same worker while the group
 * does not change. Node 20's dgram and net cannot set the option
 * (dgram's reusePort came in Node 22.12); this opens and binds the socket
 * and hands its descriptor to `dgram.Socket.bind({ fd })` or
 * `net.Server.listen({ fd })`. See docs/sip-cluster.md, "Every core of a host".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* openShared(kind "udp"|"tcp", address, port, bufferBytes) -> fd, or a negative errno */
static napi_value open_shared(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "openShared(kind, address, port, bufferBytes)");
    return NULL;
  }
  char kind[8] = { 0 }, addr[64] = { 0 };
  size_t len;
  int32_t port, buffer;
  if (napi_get_value_string_utf8(env, argv[0], kind, sizeof kind, &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || napi_get_value_int32(env, argv[3], &buffer) != napi_ok ||
      port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "openShared: kind and address are strings, port 0..65535 and bufferBytes numbers");
    return NULL;
  }
  int stream = strcmp(kind, "tcp") == 0;
  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    sslen = sizeof *v4;
  } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    sslen = sizeof *v6;
  } else {
    napi_create_int32(env, -EINVAL, &out);
    return out;
  }
  int fd = socket(ss.ss_family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  int one = 1, err = 0;
  if (fd < 0) err = errno;
  else if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) err = errno;
  else if (stream && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) err = errno;
  else if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) err = errno;
  else if (!stream && buffer > 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer) < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer) < 0)) err = errno;
  else if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) err = errno;
  if (err != 0) {
    if (fd >= 0) close(fd);
    napi_create_int32(env, -err, &out);
    return out;
  }
  napi_create_int32(env, fd, &out);
  return out;
}

napi_value thor_udp_batch_init(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openShared", NULL, open_shared, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return thor_udp_batch_init(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
