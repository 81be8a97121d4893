//! Pagination: which slice of a list is asked for, and the slice returned.

use crate::ValidationError;

/// A valid page request: `page` from 1, `per_page` from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl PageRequest {
    /// The page size when none is asked for.
    pub const DEFAULT_PER_PAGE: u32 = 20;
    /// The largest page size.
    pub const MAX_PER_PAGE: u32 = 100;

    /// Checks the bounds; `None` takes the default (page 1, 20 per page).
    ///
    /// # Errors
    /// [`ValidationError::InvalidPage`] for page 0,
    /// [`ValidationError::InvalidPerPage`] for 0 or more than 100 per page.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Result<Self, ValidationError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(Self::DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(ValidationError::InvalidPage);
        }
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            return Err(ValidationError::InvalidPerPage);
        }
        Ok(Self { page, per_page })
    }

    /// The page number, from 1.
    pub fn page(self) -> u32 {
        self.page
    }

    /// The page size.
    pub fn per_page(self) -> u32 {
        self.per_page
    }

    /// How many items come before this page. Cannot overflow: at most
    /// `u32::MAX * 100`.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

/// One page of a list, with the size of the whole list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page, in list order.
    pub items: Vec<T>,
    /// How many items the whole list holds.
    pub total: u64,
    /// The request this page answers.
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// The number of the last page holding items (1 for an empty list).
    pub fn last_page(&self) -> u64 {
        self.total.div_ceil(u64::from(self.request.per_page)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_page_1_of_20() {
        let request = PageRequest::new(None, None);
        assert_eq!(request, Ok(PageRequest::default()));
        assert_eq!(
            request.map(|r| (r.page(), r.per_page(), r.offset())),
            Ok((1, 20, 0))
        );
    }

    #[test]
    fn offset_skips_the_earlier_pages() {
        assert_eq!(
            PageRequest::new(Some(3), Some(10)).map(PageRequest::offset),
            Ok(20)
        );
        assert_eq!(
            PageRequest::new(Some(u32::MAX), Some(100)).map(PageRequest::offset),
            Ok(u64::from(u32::MAX - 1) * 100)
        );
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert_eq!(
            PageRequest::new(Some(0), None),
            Err(ValidationError::InvalidPage)
        );
        assert_eq!(
            PageRequest::new(None, Some(0)),
            Err(ValidationError::InvalidPerPage)
        );
        assert_eq!(
            PageRequest::new(None, Some(101)),
            Err(ValidationError::InvalidPerPage)
        );
        assert!(PageRequest::new(None, Some(100)).is_ok());
    }

    #[test]
    fn last_page_rounds_up_and_is_at_least_one() {
        let page = |total| {
            Page::<()> {
                items: vec![],
                total,
                request: PageRequest::default(),
            }
            .last_page()
        };
        assert_eq!((page(0), page(20), page(21)), (1, 1, 2));
    }
}
