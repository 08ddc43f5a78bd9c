//! A script's arguments, written one after another into one buffer.

use std::fmt::Write;

use bytes::BytesMut;
use fred::types::Value;

/// Each argument becomes a slice of one buffer, so fred's own copies of them
/// (into the frame it writes, and kept to send again after a reconnection)
/// share that one allocation. Built as `String`s, each argument cost an
/// allocation of its own, a second when fred made it `Bytes` and a third when
/// fred copied it: about 20 of a request's 90 allocations on the match cycle
/// (BENCHMARKS.md).
#[derive(Default)]
pub struct Args {
    buf: BytesMut,
    ends: Vec<usize>,
}

impl Args {
    /// Room for `count` arguments of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Self {
        Args {
            buf: BytesMut::with_capacity(bytes),
            ends: Vec::with_capacity(count),
        }
    }

    /// Appends one argument: text as it is, a number in decimal.
    pub fn push(&mut self, arg: impl std::fmt::Display) -> &mut Self {
        // writing into a BytesMut cannot fail: it grows
        let _ = write!(self.buf, "{arg}");
        self.ends.push(self.buf.len());
        self
    }

    pub fn into_values(self) -> Vec<Value> {
        let all = self.buf.freeze();
        let mut start = 0;
        self.ends
            .into_iter()
            .map(|end| {
                let arg = all.slice(start..end);
                start = end;
                Value::Bytes(arg)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_keep_their_order_and_bytes_empty_ones_included() {
        let mut args = Args::with_capacity(4, 16);
        args.push("{pool:a}").push(-42).push("").push("카드");
        let values: Vec<Vec<u8>> = args
            .into_values()
            .into_iter()
            .map(|v| v.as_bytes().unwrap().to_vec())
            .collect();
        assert_eq!(
            values,
            [
                b"{pool:a}".to_vec(),
                b"-42".to_vec(),
                Vec::new(),
                "카드".as_bytes().to_vec()
            ]
        );
    }
}
