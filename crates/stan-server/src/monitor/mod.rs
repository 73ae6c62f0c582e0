//! Monitoring over HTTP (`-m`): the `/streaming/*` endpoints of the
//! reference server, with its JSON field names and shapes.

pub mod http;
pub mod json;

/// One monitoring request, answered by the task that owns the state.
#[derive(Debug)]
pub struct Query {
    pub path: String,
    pub params: Vec<(String, String)>,
}

impl Query {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An HTTP answer.
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}
