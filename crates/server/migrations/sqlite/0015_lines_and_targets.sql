-- 0015: the plant's structure and its targets. An asset may name the line and the area it
-- stands in (the board groups by them, the analytics table too: the plant is not the wiring),
-- and a target availability, as the tenant may (in basis points, 8500 = 85 %: an integer, as
-- every other figure is stored).
ALTER TABLE assets ADD COLUMN line TEXT;
ALTER TABLE assets ADD COLUMN area TEXT;
ALTER TABLE assets ADD COLUMN target_bp INTEGER;
ALTER TABLE tenants ADD COLUMN target_bp INTEGER;
