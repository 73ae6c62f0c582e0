//! The header block of an `HMSG`: a `NATS/1.0 [status [description]]` line,
//! then `Name: value` lines, then an empty line.

use crate::DecodeError;

/// A parsed header block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    /// Status code from the first line (for example 503 "No Responders").
    pub status: Option<u16>,
    /// The text after the status code.
    pub description: Option<String>,
    /// The header fields in order (names as sent).
    pub fields: Vec<(String, String)>,
}

impl Headers {
    /// The first value of field `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Parse a header block as carried by `HMSG`.
    pub fn parse(block: &[u8]) -> Result<Headers, DecodeError> {
        let text = std::str::from_utf8(block).map_err(|_| DecodeError::BadHeaders)?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let rest = first.strip_prefix("NATS/1.0").ok_or(DecodeError::BadHeaders)?;
        let mut h = Headers::default();
        let rest = rest.trim();
        if !rest.is_empty() {
            let (code, desc) = rest.split_once(' ').unwrap_or((rest, ""));
            let status = code.parse::<u16>().map_err(|_| DecodeError::BadHeaders)?;
            h.status = Some(status);
            let desc = desc.trim();
            if !desc.is_empty() {
                h.description = Some(desc.to_string());
            }
        }
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':').ok_or(DecodeError::BadHeaders)?;
            h.fields.push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_with_description() {
        let h = Headers::parse(b"NATS/1.0 503 No Responders\r\n\r\n").unwrap();
        assert_eq!(h.status, Some(503));
        assert_eq!(h.description.as_deref(), Some("No Responders"));
        assert!(h.fields.is_empty());
    }

    #[test]
    fn fields_without_status() {
        let h = Headers::parse(b"NATS/1.0\r\nA: 1\r\nb:two \r\n\r\n").unwrap();
        assert_eq!(h.status, None);
        assert_eq!(h.get("a"), Some("1"));
        assert_eq!(h.get("B"), Some("two"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(Headers::parse(b"HTTP/1.1 200\r\n\r\n"), Err(DecodeError::BadHeaders));
        assert_eq!(Headers::parse(b"NATS/1.0 abc\r\n\r\n"), Err(DecodeError::BadHeaders));
        assert_eq!(Headers::parse(b"NATS/1.0\r\nnocolon\r\n\r\n"), Err(DecodeError::BadHeaders));
        assert_eq!(Headers::parse(&[0xff, 0xfe]), Err(DecodeError::BadHeaders));
    }
}
