//! `/demo/`: a web client of the API (plain HTML and JavaScript, no build step,
//! nothing from a CDN), compiled into the binary from `demo/`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, header};
use warp::reply::{Reply, Response};

const INDEX: &str = include_str!("../../demo/index.html");
const APP: &str = include_str!("../../demo/app.js");
const STYLE: &str = include_str!("../../demo/style.css");

fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut res = Response::new(body.into());
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

pub fn routes() -> BoxedFilter<(Response,)> {
    // the path first, the method last: a method filter before would make every
    // unknown path of another method a 405 (warp prefers "wrong method" to "no such path")
    warp::path("demo")
        .and(warp::path::full())
        .and_then(|path: warp::path::FullPath| async move {
            let res = match path.as_str() {
                // relative links need the slash
                "/demo" => warp::redirect::see_other(warp::http::Uri::from_static("/demo/"))
                    .into_response(),
                "/demo/" | "/demo/index.html" => file(INDEX, "text/html; charset=utf-8"),
                "/demo/app.js" => file(APP, "text/javascript; charset=utf-8"),
                "/demo/style.css" => file(STYLE, "text/css; charset=utf-8"),
                _ => return Err(warp::reject::not_found()),
            };
            Ok(res)
        })
        .and(warp::get())
        .boxed()
}
