# deploy/docker-compose.yml: Varnish's one backend is nginx, which balances over the app
# instances (a VCL backend names one address; `app` resolves to three). Mounted there as
# /etc/varnish/backends.vcl, in place of the example beside it.
backend nginx {
    .host = "nginx";
    .port = "80";
    .probe = quire_ready;
    .connect_timeout = 2s;
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 10s;
}

sub vcl_init {
    quire.add_backend(nginx);
}
