-- A wallet's plan and its queue-priority tier.
ALTER TABLE accounts ADD COLUMN plan TEXT;
ALTER TABLE accounts ADD COLUMN tier INTEGER;
