-- 0014: the stops of the down time by reason (the Pareto) are counted as the figures count
-- them: once per stop that begins inside the window and inside planned time, under its first
-- part's reason (analytics/reasons.rs). The day rollups hold the old tallies, which counted each
-- part of a split stop and stops outside planned time: they are a cache, so they are forgotten
-- and computed again on the next question.
DELETE FROM day_rollups;
