CREATE TABLE other_set (id int);
