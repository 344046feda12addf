{
  "targets": [
    {
      "target_name": "thor_sockets",
      "sources": ["reuseport.c", "udp_batch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    }
  ]
}
