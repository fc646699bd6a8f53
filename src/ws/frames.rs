//! The frame limit (`ws.max_frame_bytes`), applied to the bytes as they arrive rather than to
//! the frames actix-ws decodes. Its parser only compares a frame's announced length with the
//! limit once the whole frame is in its buffer, so one frame announced at 200 MiB and sent
//! slowly held 200 MiB of memory for as long as the idle cut-off allowed (issue 24). Here each
//! frame's header (RFC 6455 §5.2) is read as it passes, and a header that announces more than
//! the limit ends the stream there: the payload is never kept, and the socket closes with
//! 1009 (`socket::life`).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use actix_web::{dev, error::PayloadError, web::Bytes};
use futures_core::Stream;

/// Where the frames of a client's byte stream begin and end: only their headers are looked
/// at, and only the announced length is kept.
#[derive(Debug)]
pub struct Frames {
    limit: u64,
    /// The current header, as far as it has arrived (at most 14 bytes: 2, an extended length
    /// of 2 or 8, a mask key of 4).
    head: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come.
    left: u64,
}

/// A header announced a payload over the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooBig {
    pub announced: u64,
}

impl Frames {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            head: [0; 14],
            have: 0,
            left: 0,
        }
    }

    /// The next bytes from the client, in order, however they are cut.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), TooBig> {
        loop {
            if self.left > 0 {
                let skip = usize::try_from(self.left).map_or(bytes.len(), |l| l.min(bytes.len()));
                self.left -= skip as u64;
                bytes = &bytes[skip..];
            }
            if bytes.is_empty() {
                return Ok(());
            }
            let want = if self.have < 2 {
                2
            } else {
                header_len(self.head[1])
            };
            let take = (want - self.have).min(bytes.len());
            self.head[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have < 2 || self.have < header_len(self.head[1]) {
                continue;
            }
            let announced = announced(&self.head);
            if announced > self.limit {
                return Err(TooBig { announced });
            }
            self.left = announced;
            self.have = 0;
        }
    }
}

/// A header's length, from its second byte: the length field (7 bits, or 126 and 2 more bytes,
/// or 127 and 8 more) and the mask bit (a 4-byte key follows).
fn header_len(second: u8) -> usize {
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 == 0 { 0 } else { 4 };
    2 + extended + mask
}

/// The payload length a complete header announces.
fn announced(head: &[u8; 14]) -> u64 {
    match head[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([head[2], head[3]])),
        127 => u64::from_be_bytes([
            head[2], head[3], head[4], head[5], head[6], head[7], head[8], head[9],
        ]),
        short => u64::from(short),
    }
}

/// Whether the client announced a frame over the limit: the socket's reason to close with 1009.
#[derive(Debug, Clone, Default)]
pub struct Oversized(Arc<AtomicBool>);

impl Oversized {
    pub fn announced(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The request's payload, passed on until a header announces a frame over the limit; then an
/// error, and nothing more is read.
struct Guarded {
    inner: Option<dev::Payload>,
    frames: Frames,
    oversized: Oversized,
}

impl Stream for Guarded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => match this.frames.feed(&bytes) {
                Ok(()) => Poll::Ready(Some(Ok(bytes))),
                Err(TooBig { .. }) => {
                    // Dropped: what the client still sends is read and discarded, never kept.
                    this.inner = None;
                    this.oversized.0.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            },
            other => other,
        }
    }
}

/// `payload` with frames over `limit` refused from their header, and the flag that says so.
pub fn guard(payload: dev::Payload, limit: usize) -> (dev::Payload, Oversized) {
    let oversized = Oversized::default();
    let guarded = Guarded {
        inner: Some(payload),
        frames: Frames::new(limit),
        oversized: oversized.clone(),
    };
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guarded);
    let payload = dev::Payload::Stream { payload: stream };
    (payload, oversized)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's frame header: masked, with `len` in the shortest form.
    fn header(len: u64) -> Vec<u8> {
        let mut head = vec![0x81];
        match len {
            0..=125 => head.push(0x80 | len as u8),
            126..=0xffff => {
                head.push(0x80 | 126);
                head.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                head.push(0x80 | 127);
                head.extend_from_slice(&len.to_be_bytes());
            }
        }
        head.extend_from_slice(&[1, 2, 3, 4]);
        head
    }

    fn frame(len: usize) -> Vec<u8> {
        let mut bytes = header(len as u64);
        bytes.extend(std::iter::repeat_n(b'x', len));
        bytes
    }

    #[test]
    fn several_frames_in_one_chunk_pass_within_the_limit() {
        let mut frames = Frames::new(4096);
        let chunk: Vec<u8> = [frame(0), frame(5), frame(125), frame(126), frame(4096)].concat();
        assert_eq!(frames.feed(&chunk), Ok(()));
        // And the next frame's header is read from the right place.
        assert_eq!(frames.feed(&header(4097)), Err(TooBig { announced: 4097 }));
    }

    #[test]
    fn a_header_cut_anywhere_is_put_together() {
        for big in [5000u64, 64 << 20] {
            let bytes = [frame(300), header(big)].concat();
            for cut in 0..bytes.len() {
                let mut frames = Frames::new(4096);
                let first = frames.feed(&bytes[..cut]);
                let second = first.and_then(|()| frames.feed(&bytes[cut..]));
                assert_eq!(second, Err(TooBig { announced: big }), "cut at {cut}");
            }
        }
        // One byte at a time.
        let mut frames = Frames::new(4096);
        let bytes = [frame(200), frame(4000), header(4097)].concat();
        let verdicts: Vec<_> = bytes.chunks(1).map(|b| frames.feed(b)).collect();
        assert_eq!(verdicts.last(), Some(&Err(TooBig { announced: 4097 })));
        assert!(verdicts[..verdicts.len() - 1].iter().all(Result::is_ok));
    }

    #[test]
    fn lengths_of_16_and_64_bits_are_read() {
        let mut frames = Frames::new(usize::MAX);
        assert_eq!(frames.feed(&header(0xffff)), Ok(()));
        assert_eq!(frames.left, 0xffff);
        let mut frames = Frames::new(usize::MAX);
        assert_eq!(frames.feed(&header(1 << 40)), Ok(()));
        assert_eq!(frames.left, 1 << 40);
        let mut frames = Frames::new(70_000);
        assert_eq!(
            frames.feed(&header(70_001)),
            Err(TooBig { announced: 70_001 })
        );
    }

    #[test]
    fn unmasked_frames_have_no_key() {
        // actix refuses them from a client anyway; the header is still read right.
        let mut frames = Frames::new(10);
        assert_eq!(
            frames.feed(&[0x81, 3, b'a', b'b', b'c', 0x81, 11]),
            Err(TooBig { announced: 11 })
        );
    }

    #[test]
    fn the_payload_is_not_taken_for_headers() {
        // Payload bytes that look like a huge header are skipped as payload.
        let mut frames = Frames::new(4096);
        let mut bytes = header(10);
        bytes.extend_from_slice(&[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(frames.feed(&bytes), Ok(()));
        assert_eq!((frames.have, frames.left), (0, 0));
    }
}
