-- The sample stores.stores table, in portable SQL: run as it is on SQLite and MySQL/MariaDB.
CREATE TABLE stores.stores (
  store_id INTEGER NOT NULL PRIMARY KEY,
  store_name VARCHAR(100) NOT NULL,
  city VARCHAR(100),
  region VARCHAR(50),
  square_meters INTEGER,
  opened_year INTEGER
);
INSERT INTO stores.stores (store_id, store_name, city, region, square_meters, opened_year) VALUES
  (101, 'Harbourside', 'Bristol', 'South West', 420, 2015),
  (102, 'Northern Quarter', 'Manchester', 'North West', 610, 2018),
  (103, 'Old Town', 'Edinburgh', 'Scotland', NULL, 2012);
