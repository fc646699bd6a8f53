//! The dashboard's statistics: a 30-day chart drawn as SVG on the server (no script, no
//! chart library) and the most read posts.

use sqlx::PgPool;
use time::{Date, macros::format_description};

use super::repo::{self, TopPost};
use crate::accounts::model::UserId;

/// Days the chart covers.
pub const DAYS: i32 = 30;
const TOP_POSTS: i64 = 5;

/// The chart's drawing box (the SVG scales to its container).
const WIDTH: u32 = 600;
const HEIGHT: u32 = 140;
const GAP: u32 = 4;

/// One day's bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// "Nov 4: 12 views", for the bar's tooltip and the table.
    pub label: String,
    pub day: String,
    pub views: i64,
}

/// Views per day, ready to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    pub bars: Vec<Bar>,
    pub total: i64,
    pub peak: i64,
    pub first_day: String,
    pub last_day: String,
    pub width: u32,
    pub height: u32,
}

fn short(day: Date) -> String {
    day.format(format_description!("[month repr:short] [day padding:none]"))
        .unwrap_or_default()
}

impl Chart {
    pub fn new(days: &[(Date, i64)]) -> Self {
        let peak = days.iter().map(|(_, v)| *v).max().unwrap_or(0);
        let n = u32::try_from(days.len().max(1)).unwrap_or(1);
        let slot = WIDTH / n;
        let width = slot.saturating_sub(GAP).max(1);
        let bars = days
            .iter()
            .zip(0u32..)
            .map(|((day, views), i)| {
                // At least a sliver, so a day without views still shows where it is.
                let height = match peak {
                    0 => 1,
                    _ => ((*views as f64 / peak as f64) * f64::from(HEIGHT - 1)).round() as u32 + 1,
                };
                Bar {
                    x: i * slot + GAP / 2,
                    y: HEIGHT - height,
                    width,
                    height,
                    label: format!(
                        "{}: {views} view{}",
                        short(*day),
                        if *views == 1 { "" } else { "s" }
                    ),
                    day: short(*day),
                    views: *views,
                }
            })
            .collect();
        Self {
            bars,
            total: days.iter().map(|(_, v)| *v).sum(),
            peak,
            first_day: days.first().map(|(d, _)| short(*d)).unwrap_or_default(),
            last_day: days.last().map(|(d, _)| short(*d)).unwrap_or_default(),
            width: WIDTH,
            height: HEIGHT,
        }
    }
}

/// What the dashboard shows: the chart and the most read posts, of `author`'s posts or all.
pub struct Stats {
    pub chart: Chart,
    pub top: Vec<TopPost>,
}

pub async fn load(db: &PgPool, author: Option<UserId>) -> sqlx::Result<Stats> {
    let days = repo::daily(db, author, DAYS).await?;
    let top = repo::top(db, author, DAYS, TOP_POSTS).await?;
    Ok(Stats {
        chart: Chart::new(&days),
        top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day_and_empty_days_show_a_sliver() {
        let day = |d: u8| Date::from_calendar_date(2026, time::Month::November, d).expect("a date");
        let chart = Chart::new(&[(day(1), 0), (day(2), 5), (day(3), 10)]);
        assert_eq!(chart.peak, 10);
        assert_eq!(chart.total, 15);
        let heights: Vec<u32> = chart.bars.iter().map(|b| b.height).collect();
        assert_eq!(heights, [1, 71, HEIGHT]);
        assert!(chart.bars.iter().all(|b| b.y + b.height == HEIGHT));
        assert_eq!(chart.bars[2].label, "Nov 3: 10 views");
        assert_eq!(chart.first_day, "Nov 1");
        let quiet = Chart::new(&[(day(1), 0), (day(2), 0)]);
        assert!(quiet.bars.iter().all(|b| b.height == 1));
    }
}
