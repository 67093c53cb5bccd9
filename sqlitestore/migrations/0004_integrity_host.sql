-- 0004: integrity alerts carry the host name of the machine whose scan
-- raised them (integrity.Alert.Host); '' for alerts raised before.
ALTER TABLE integrity_alerts ADD COLUMN host TEXT NOT NULL DEFAULT '';
