# Varnish in front of Quire: an edge cache (a stand-in for a CDN) that keeps public pages
# long and is told what changed (README, "Edge cache").
#
#   varnishd -a :80 -f /etc/varnish/default.vcl -p vcl_path=/etc/varnish -s malloc,1g
#
# and in Quire's settings: `edge.purge_url` = this Varnish's address, and Varnish's address in
# `http.trusted_proxies` (it adds the client's to X-Forwarded-For; rate limits key on it).
#
# Quire decides what may be kept: only a response with `Surrogate-Control` is stored, for the
# max-age it names, and for stale-if-error longer while every Quire instance is down. Quire
# sends that header exactly on the pages its own page cache keeps (anonymous 200s without
# Set-Cookie or a private Cache-Control), with `Surrogate-Key` naming what the page shows
# (`post-12 tag-3 author-7 site`...). When something changes, Quire's `edge.purge` job sends
# `PURGE` with the keys in `xkey-purge` (and `Fastly-Soft-Purge: 1` for a soft purge), which
# this file accepts from `purgers` only.
#
# The backends are in `backends.vcl`, found on `vcl_path` (e.g. -p vcl_path=/etc/varnish):
# list each Quire instance there and add it to the `quire` director.
#
# Tested with Debian 12's varnish 7.1 and varnish-modules 0.20 (for xkey): tests/it/edge.rs
# starts varnishd with this very file.
vcl 4.1;

import cookie;
import directors;
import std;
import xkey;

# Who may purge: this machine and private networks (Quire's instances). Behind a TLS
# terminator that speaks the PROXY protocol (`-a :8443,PROXY`), client.ip is the real client.
acl purgers {
    "localhost";
    "127.0.0.0"/8;
    "::1";
    "10.0.0.0"/8;
    "172.16.0.0"/12;
    "192.168.0.0"/16;
    "fc00::"/7;
}

# An instance is healthy while its /readyz answers 200 (it does while PostgreSQL is reachable;
# a Redis outage only degrades it). Three good answers of the last five: in; fewer: out.
probe quire_ready {
    .url = "/readyz";
    .interval = 5s;
    .timeout = 2s;
    .window = 5;
    .threshold = 3;
    # Healthy from the start, as if the last three looks were good: pages are served
    # before the first probe comes back.
    .initial = 3;
    .expected_response = 200;
}

sub vcl_init {
    # backends.vcl adds each instance to it.
    new quire = directors.round_robin();
}

include "backends.vcl";

sub vcl_recv {
    # Our own markers are ours: never a client's.
    if (req.restarts == 0) {
        unset req.http.X-Quire-Stale;
        unset req.http.X-Quire-Lookup;
    }
    set req.backend_hint = quire.backend();

    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Purging is not allowed from " + client.ip));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "A purge names its surrogate keys in xkey-purge"));
        }
        # Soft: the pages are stale at once, but still served while Quire is down.
        if (req.http.Fastly-Soft-Purge == "1") {
            set req.http.X-Purged = xkey.softpurge(req.http.xkey-purge);
        } else {
            set req.http.X-Purged = xkey.purge(req.http.xkey-purge);
        }
        return (synth(200, "Purged " + req.http.X-Purged));
    }

    # Live updates: the WebSocket goes straight through.
    if (req.url ~ "^/ws/" && req.http.Upgrade ~ "(?i)^websocket$") {
        return (pipe);
    }

    # Writes, and anything a person asks with their session or token, are theirs: never
    # looked up, never stored.
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    # Quire reads one cookie, its session. Without it every other cookie (analytics, a
    # consent banner) is noise that would keep pages from being shared: dropped. With it,
    # the page is that person's.
    if (req.http.Cookie) {
        cookie.parse(req.http.Cookie);
        cookie.keep("quire_session");
        set req.http.Cookie = cookie.get_string();
        if (req.http.Cookie != "") {
            return (pass);
        }
        unset req.http.Cookie;
    }

    # How stale a kept page may be served. While Quire answers: never past its time (a purged
    # page is fetched afresh). After a failed fetch (vcl_deliver restarts here), or while
    # every instance is out: up to the page's stale-if-error.
    if (req.http.X-Quire-Stale) {
        set req.grace = 3650d;
    } elsif (std.healthy(req.backend_hint)) {
        set req.grace = 0s;
    }
    set req.http.X-Quire-Lookup = "1";
    return (hash);
}

sub vcl_miss {
    # A fetch failed and nothing stale is kept: say so, without asking Quire again.
    if (req.http.X-Quire-Stale) {
        return (synth(503, "Service Unavailable"));
    }
}

sub vcl_pipe {
    # The WebSocket handshake needs its Upgrade and Connection headers.
    if (req.http.Upgrade) {
        set bereq.http.Upgrade = req.http.Upgrade;
        set bereq.http.Connection = req.http.Connection;
    }
}

sub vcl_backend_response {
    # A refetch in the background that fails keeps the stale copy.
    if (bereq.is_bgfetch && beresp.status >= 500) {
        return (abandon);
    }
    # Kept: what Quire marks for the edge, and nothing else (never a Set-Cookie, never a
    # private answer, never an error).
    if (beresp.status == 200
        && beresp.http.Surrogate-Control ~ "(^|[ ,])max-age=[0-9]+"
        && !beresp.http.Set-Cookie
        && beresp.http.Cache-Control !~ "(?i)private|no-store") {
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^(.*[ ,])?max-age=([0-9]+).*$", "\2") + "s",
            0s);
        if (beresp.http.Surrogate-Control ~ "(^|[ ,])stale-if-error=[0-9]+") {
            set beresp.grace = std.duration(
                regsub(beresp.http.Surrogate-Control,
                    "^(.*[ ,])?stale-if-error=([0-9]+).*$", "\2") + "s",
                0s);
        } else {
            set beresp.grace = 0s;
        }
        # A stale copy is kept a day longer for revalidation (If-None-Match: a 304 is cheap).
        set beresp.keep = 1d;
        # xkey reads the keys from `xkey`; Quire (like Fastly) says `Surrogate-Key`.
        if (beresp.http.Surrogate-Key) {
            set beresp.http.xkey = beresp.http.Surrogate-Key;
        }
        return (deliver);
    }
    # Anything else is fetched for each request (hit-for-miss, remembered two minutes so
    # requests for it are not queued behind each other).
    set beresp.ttl = 120s;
    set beresp.grace = 0s;
    set beresp.uncacheable = true;
    return (deliver);
}

sub vcl_backend_error {
    # Quire could not be reached: a readable page (vcl_deliver first looks for a stale copy).
    set beresp.http.Content-Type = "text/html; charset=utf-8";
    set beresp.http.Retry-After = "30";
    synthetic({"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1>
<p>The site can't be reached just now. Please try again in a minute.</p></body></html>
"});
    return (deliver);
}

sub vcl_deliver {
    # Quire is down (or overloaded) and this page was looked up: look again for a stale copy.
    if (req.http.X-Quire-Lookup && req.restarts == 0 && !req.http.X-Quire-Stale
        && (resp.status == 502 || resp.status == 503 || resp.status == 504)) {
        set req.http.X-Quire-Stale = "1";
        return (restart);
    }
    # For operators: HIT (STALE when served past its time), MISS, or PASS (never kept).
    if (!req.http.X-Quire-Lookup) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0) {
        if (obj.ttl <= 0s) {
            set resp.http.X-Cache = "STALE";
        } else {
            set resp.http.X-Cache = "HIT";
        }
    } else {
        set resp.http.X-Cache = "MISS";
    }
    # Quire's instructions to the edge are for the edge only.
    unset resp.http.Surrogate-Key;
    unset resp.http.Surrogate-Control;
    unset resp.http.xkey;
    unset resp.http.X-Cache-Layer;
}

sub vcl_synth {
    set resp.http.Content-Type = "text/plain; charset=utf-8";
    if (resp.status == 503) {
        set resp.http.Content-Type = "text/html; charset=utf-8";
        set resp.http.Retry-After = "30";
        synthetic({"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1>
<p>The site can't be reached just now. Please try again in a minute.</p></body></html>
"});
    } else {
        synthetic(resp.reason + {"
"});
    }
    return (deliver);
}
