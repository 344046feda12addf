{
  "targets": [
    {
      "target_name": "thor_media",
      "sources": ["forwarder.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "libraries": ["-lpthread"]
    }
  ]
}
