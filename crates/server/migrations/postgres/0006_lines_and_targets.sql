-- PostgreSQL's migration 0006, as SQLite's 0015: an asset's line and area, and the target
-- availability of an asset and of a tenant in basis points (8500 = 85 %).
ALTER TABLE assets ADD COLUMN line TEXT, ADD COLUMN area TEXT, ADD COLUMN target_bp BIGINT;
ALTER TABLE tenants ADD COLUMN target_bp BIGINT;
