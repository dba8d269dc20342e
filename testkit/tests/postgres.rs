//! The PostgreSQL test harness: each test's database is its own, and the server really
//! serialises concurrent spenders that lock the rows they spend (`FOR UPDATE`), the way the
//! ledger will on PostgreSQL.

use switchyard_testkit::TestDatabase;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn each_test_gets_a_database_of_its_own() {
    rt().block_on(async {
        let (a, b) = (TestDatabase::create().await, TestDatabase::create().await);
        assert_ne!(a.url, b.url);
        for db in [&a, &b] {
            let pool = db.pool(2).await;
            sqlx::query("CREATE TABLE wallets (id TEXT PRIMARY KEY, credits BIGINT NOT NULL CHECK (credits >= 0))")
                .execute(&pool)
                .await
                .expect("the same table in each database");
            pool.close().await;
        }
        a.drop_now().await;
        b.drop_now().await;
    });
}

#[test]
fn row_locks_serialise_concurrent_spenders() {
    rt().block_on(async {
        let db = TestDatabase::create().await;
        let pool = db.pool(8).await;
        sqlx::query("CREATE TABLE wallets (id TEXT PRIMARY KEY, credits BIGINT NOT NULL CHECK (credits >= 0))")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO wallets VALUES ('studio', 100)").execute(&pool).await.unwrap();
        let spenders: Vec<_> = (0..16)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut tx = pool.begin().await.unwrap();
                    let credits: i64 = sqlx::query_scalar("SELECT credits FROM wallets WHERE id = 'studio' FOR UPDATE")
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                    if credits < 30 {
                        return false;
                    }
                    sqlx::query("UPDATE wallets SET credits = credits - 30 WHERE id = 'studio'")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    true
                })
            })
            .collect();
        let mut spent = 0;
        for s in spenders {
            if s.await.unwrap() {
                spent += 1;
            }
        }
        assert_eq!(spent, 3, "three spends of 30 fit in 100, whatever the interleaving");
        let left: i64 = sqlx::query_scalar("SELECT credits FROM wallets").fetch_one(&pool).await.unwrap();
        assert_eq!(left, 10);
        pool.close().await;
        db.drop_now().await;
    });
}
