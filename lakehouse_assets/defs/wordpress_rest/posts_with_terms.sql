-- gold/wordpress_rest/posts_with_terms: one row per post. Category and tag names follow the
-- order of the post's own id lists; an id whose term is gone is left out.
WITH post_categories AS (
    SELECT id, unnest(categories) AS term_id, generate_subscripts(categories, 1) AS position
    FROM posts
),
post_tags AS (
    SELECT id, unnest(tags) AS term_id, generate_subscripts(tags, 1) AS position
    FROM posts
),
category_names AS (
    SELECT p.id, list(c.name ORDER BY p.position) AS names
    FROM post_categories AS p
    JOIN categories AS c ON c.id = p.term_id
    GROUP BY p.id
),
tag_names AS (
    SELECT p.id, list(t.name ORDER BY p.position) AS names
    FROM post_tags AS p
    JOIN tags AS t ON t.id = p.term_id
    GROUP BY p.id
)
SELECT
    posts.id AS post_id,
    posts.title AS post_title,
    posts.date AS post_date,
    users.name AS author_name,
    coalesce(category_names.names, CAST([] AS VARCHAR[])) AS category_names,
    coalesce(tag_names.names, CAST([] AS VARCHAR[])) AS tag_names
FROM posts
LEFT JOIN users ON users.id = posts.author
LEFT JOIN category_names ON category_names.id = posts.id
LEFT JOIN tag_names ON tag_names.id = posts.id
ORDER BY post_id
