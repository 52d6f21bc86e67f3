//! People by name and role for the pages officials read (one lookup for
//! pages, reports and exports: [`crate::report::people`]).

pub use crate::report::people::{Names, PersonView};
