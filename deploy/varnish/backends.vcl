# Quire's instances, one backend each, all in the `quire` director (default.vcl includes this
# file). Each is probed on /readyz (`quire_ready`, in default.vcl).
backend quire1 {
    .host = "127.0.0.1";
    .port = "8080";
    .probe = quire_ready;
    .connect_timeout = 2s;
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 10s;
}

# A second instance: one more backend like the first, and one more add_backend below.
# backend quire2 {
#     .host = "10.0.0.12";
#     .port = "8080";
#     .probe = quire_ready;
# }

sub vcl_init {
    quire.add_backend(quire1);
    # quire.add_backend(quire2);
}
