//! A script's arguments, written one after another into one buffer.

use std::fmt::Write;

use bytes::{BufMut, BytesMut};
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
    pub fn push(&mut self, arg: impl Arg) -> &mut Self {
        arg.write_to(&mut self.buf);
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

/// What a script argument can be. Text is copied and integers written by
/// `itoa`, without `core::fmt` (about 190 instructions an argument through
/// `write!`, ~3% of the node's on the match cycle: BENCHMARKS.md).
pub trait Arg {
    fn write_to(&self, buf: &mut BytesMut);
}

impl Arg for str {
    fn write_to(&self, buf: &mut BytesMut) {
        buf.put_slice(self.as_bytes());
    }
}

impl Arg for String {
    fn write_to(&self, buf: &mut BytesMut) {
        buf.put_slice(self.as_bytes());
    }
}

impl<T: Arg + ?Sized> Arg for &T {
    fn write_to(&self, buf: &mut BytesMut) {
        (**self).write_to(buf);
    }
}

macro_rules! integer_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn write_to(&self, buf: &mut BytesMut) {
                buf.put_slice(itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}
integer_args!(i32, i64, u32, u64, usize);

/// A coordinate, as Rust prints it (the shortest text that reads back the same).
impl Arg for f64 {
    fn write_to(&self, buf: &mut BytesMut) {
        // writing into a BytesMut cannot fail: it grows
        let _ = write!(buf, "{self}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_keep_their_order_and_bytes_empty_ones_included() {
        let mut args = Args::with_capacity(7, 48);
        args.push("{pool:a}")
            .push(-42)
            .push("")
            .push("카드")
            .push(u64::MAX)
            .push(String::from("s"))
            .push(127.5);
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
                "카드".as_bytes().to_vec(),
                b"18446744073709551615".to_vec(),
                b"s".to_vec(),
                b"127.5".to_vec()
            ]
        );
    }
}
