//! Logging: tracing with an env filter (`RUST_LOG`), JSON lines when
//! `LOG_FORMAT=json`. Request spans carry `request_id` and `user_id`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    // warp's own per-request events repeat what the "request" line says
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,warp::filters::trace=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // a second init (tests start many servers in one process) keeps the first
    drop(result);
}

/// A request id: 64 random bits, 16 hex digits (written by hand: `format!`
/// took ~600 instructions of every request, BENCHMARKS.md).
pub fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = rand::random::<u64>();
    (0..16)
        .rev()
        .map(|digit| char::from(HEX[(bits >> (digit * 4)) as usize & 0xf]))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_16_hex_digits_and_differ() {
        let (a, b) = (super::request_id(), super::request_id());
        assert_eq!(a.len(), 16);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_ne!(a, b);
    }
}
