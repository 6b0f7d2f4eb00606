-- The ERP's own first `schema_pointage.sql`, reproduced for the upgrade tests: the layout its
-- attendance pages read (employees in `equipe`, one `pointage` row per employee and day, one
-- `pointage_resume` row per employee and month, hours everywhere), as the first version's status
-- page told the DBA to run it. Not ours to change: the service's schema must take it as it is.

CREATE TABLE IF NOT EXISTS equipe (
    id SERIAL PRIMARY KEY,
    matricule VARCHAR(20) UNIQUE,
    nom VARCHAR(100) NOT NULL,
    prenom VARCHAR(100) NOT NULL,
    fonction VARCHAR(100),
    email VARCHAR(150),
    telephone VARCHAR(30),
    actif BOOLEAN DEFAULT true,
    taux_horaire NUMERIC(10,2) DEFAULT 0,
    temps_travaille_mois NUMERIC(6,2) DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS pointage (
    id SERIAL PRIMARY KEY,
    timemoto_id VARCHAR(100) UNIQUE,
    user_id INTEGER NOT NULL REFERENCES equipe(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    check_in TIMESTAMP,
    check_out TIMESTAMP,
    heures_travaillees NUMERIC(5,2) DEFAULT 0,
    present BOOLEAN DEFAULT false,
    retard_minutes INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(user_id, date)
);

CREATE INDEX IF NOT EXISTS idx_pointage_user_date ON pointage(user_id, date);
CREATE INDEX IF NOT EXISTS idx_pointage_date ON pointage(date);

CREATE TABLE IF NOT EXISTS pointage_resume (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES equipe(id) ON DELETE CASCADE,
    mois VARCHAR(7) NOT NULL,
    total_heures NUMERIC(6,2) DEFAULT 0,
    total_jours_presents INTEGER DEFAULT 0,
    total_jours_absents INTEGER DEFAULT 0,
    total_retards INTEGER DEFAULT 0,
    total_minutes_retard INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(user_id, mois)
);

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS update_pointage_updated_at ON pointage;
CREATE TRIGGER update_pointage_updated_at BEFORE UPDATE ON pointage
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
DROP TRIGGER IF EXISTS update_pointage_resume_updated_at ON pointage_resume;
CREATE TRIGGER update_pointage_resume_updated_at BEFORE UPDATE ON pointage_resume
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE OR REPLACE VIEW v_pointage_detail AS
SELECT p.*, e.nom, e.prenom, e.fonction, e.email,
       CASE WHEN p.retard_minutes > 0 THEN true ELSE false END AS a_retard
FROM pointage p
JOIN equipe e ON p.user_id = e.id;
