//! Paging: where a page starts, and how both backends read one page by a cursor.

/// Where a page starts. Cursors are ids (or names), which sort by creation.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cursor {
    #[default]
    Start,
    /// The items that follow this one in the list's order.
    After(String),
    /// The items that precede this one in the list's order (a "previous page").
    Before(String),
}

/// One page request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: u32,
    pub cursor: Cursor,
}

/// How a list is ordered.
pub struct Order {
    pub key: &'static str,
    pub descending: bool,
}

/// What both backends need to read one page: the cursor condition's operator and key, and
/// the direction to walk. A previous page walks the list in reverse, then flips the page.
pub struct PagePlan<'a> {
    pub after: Option<(&'static str, &'a str)>,
    pub direction: &'static str,
    backwards: bool,
    limit: u32,
}

impl ListQuery {
    pub fn plan(&self, order: &Order) -> PagePlan<'_> {
        let backwards = matches!(self.cursor, Cursor::Before(_));
        let descending = order.descending != backwards;
        let after = match &self.cursor {
            Cursor::After(key) | Cursor::Before(key) => {
                Some((if descending { "<" } else { ">" }, key.as_str()))
            }
            Cursor::Start => None,
        };
        PagePlan {
            after,
            direction: if descending { "DESC" } else { "ASC" },
            backwards,
            limit: self.limit,
        }
    }
}

impl PagePlan<'_> {
    /// Rows to fetch: one more than the page, to learn whether the list goes on.
    pub fn fetch(&self) -> u32 {
        self.limit + 1
    }

    /// The page, in the list's order, from the rows fetched.
    pub fn page<T>(&self, mut items: Vec<T>) -> Page<T> {
        let has_more = items.len() > self.limit as usize;
        items.truncate(self.limit as usize);
        if self.backwards {
            items.reverse();
        }
        Page { items, has_more }
    }
}

/// One page of results, in the list's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether more items follow in the direction the page was read.
    pub has_more: bool,
}
