//! The ceiling for `bench/run.sh`: the least an actix-web server can do per request on this
//! machine, returning a fixed in-memory body (the size of a real Quire page).
//!
//! `cargo run --release --example ceiling -- BODY_FILE PORT`

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("usage: ceiling BODY_FILE PORT");
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: ceiling BODY_FILE PORT");
    let body = web::Bytes::from(std::fs::read(file)?);
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }
        }))
    })
    .workers(2)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
