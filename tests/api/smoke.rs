use crate::helpers::*;

#[tokio::test]
async fn livez_readyz_and_home_page_answer() {
    let app = spawn_app().await;
    let c = app.client();
    assert_eq!(c.get(app.url("/livez")).send().await.unwrap().status(), 200);
    let ready = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true);
    let home = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Upcoming shows"));
    app.stop().await;
}
