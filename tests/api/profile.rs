//! Profile endpoints and profile images.

use std::io::Cursor;

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::json;

use crate::helpers::*;

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

const GPS_MARKER: &[u8] = b"GPSLatitude=37.5665N-secret";

/// A JPEG carrying an EXIF segment with a GPS marker.
fn jpeg_with_exif() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, _| image::Rgb([x as u8 * 3, 100, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let plain = out.into_inner();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(GPS_MARKER);
    let len = (app1.len() + 2) as u16;
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
    jpeg.extend_from_slice(&len.to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

/// A 64 x 48 JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6),
/// as phones store portraits.
fn jpeg_turned_sideways() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, _| image::Rgb([x as u8 * 3, 100, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let plain = out.into_inner();
    let mut app1 = b"Exif\0\0II\x2a\0\x08\0\0\0".to_vec();
    app1.extend_from_slice(&1u16.to_le_bytes()); // one IFD entry
    app1.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    app1.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    app1.extend_from_slice(&1u32.to_le_bytes());
    app1.extend_from_slice(&[6, 0, 0, 0]);
    app1.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let len = (app1.len() + 2) as u16;
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
    jpeg.extend_from_slice(&len.to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

async fn put_profile(app: &TestApp, token: &str, form: Form) -> (StatusCode, serde_json::Value) {
    let res = app
        .client
        .put(app.at("/api/user/profile/"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    parts(res).await
}

#[tokio::test]
async fn profile_shows_the_account() {
    let app = spawn_app().await;
    let user = app.signup_as(&unique("prof"), "female", 33).await;
    let (status, body) = app.get("/api/user/profile/", Some(&user.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], user.username.as_str());
    assert_eq!(body["age"], 33);
    assert_eq!(body["gender"], "female");
    assert_eq!(body["gems"], 0);
    assert_eq!(body["id"], user.id);
}

#[tokio::test]
async fn signup_image_is_served_reencoded_without_exif() {
    let app = spawn_app().await;
    let form = signup_form(&unique("img"), "password1", "25", "male")
        .part("profile_image", image_part(jpeg_with_exif(), "me.jpg"));
    let (status, body) = app.signup_raw(form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, profile) = app.get("/api/user/profile/", body["access"].as_str()).await;
    let url = profile["profile_image"].as_str().unwrap();
    assert!(url.starts_with(&app.url) && url.ends_with(".jpg"), "{url}");
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let served = res.bytes().await.unwrap();
    assert!(
        !served.windows(GPS_MARKER.len()).any(|w| w == GPS_MARKER),
        "EXIF survived"
    );
    let decoded = image::load_from_memory(&served).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
}

#[tokio::test]
async fn update_profile_changes_username_and_image() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let new_name = unique("renamed");
    let form = Form::new()
        .text("username", new_name.clone())
        .part("profile_image", image_part(png(2000, 1000), "big.png"));
    let (status, body) = put_profile(&app, &user.access, form).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"message": "프로필이 수정되었습니다."})
        )
    );
    let (_, profile) = app.get("/api/user/profile/", Some(&user.access)).await;
    assert_eq!(profile["username"], new_name.as_str());
    let first_url = profile["profile_image"].as_str().unwrap().to_owned();
    let served = app
        .client
        .get(&first_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let img = image::load_from_memory(&served).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (1024, 512),
        "large images are scaled down"
    );

    // a new image replaces the old file
    let form = Form::new().part("profile_image", image_part(png(10, 10), "small.png"));
    assert_eq!(
        put_profile(&app, &user.access, form).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.client.get(&first_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.login(&new_name, &user.password).await.0, StatusCode::OK);
}

#[tokio::test]
async fn webp_images_are_accepted_and_served_as_webp() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let img = image::RgbaImage::from_fn(20, 10, |x, _| image::Rgba([x as u8 * 10, 0, 200, 255]));
    let mut webp = Cursor::new(Vec::new());
    img.write_to(&mut webp, image::ImageFormat::WebP).unwrap();
    let form = Form::new().part("profile_image", image_part(webp.into_inner(), "me.jpg"));
    assert_eq!(
        put_profile(&app, &user.access, form).await.0,
        StatusCode::OK
    );
    let (_, profile) = app.get("/api/user/profile/", Some(&user.access)).await;
    let url = profile["profile_image"].as_str().unwrap();
    assert!(url.ends_with(".webp"), "{url}");
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/webp");
    let served = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (20, 10));
}

#[tokio::test]
async fn images_are_accepted_by_content_not_by_name() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let form = Form::new().part(
        "profile_image",
        image_part(b"plain text, not a picture".to_vec(), "photo.png"),
    );
    let (status, body) = put_profile(&app, &user.access, form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation("profile_image: must be a JPEG, PNG or WebP image")
    );
    // a real PNG named .txt is fine
    let form = Form::new().part("profile_image", image_part(png(8, 8), "notes.txt"));
    assert_eq!(
        put_profile(&app, &user.access, form).await.0,
        StatusCode::OK
    );
    // a GIF is a real image, but not an accepted one
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let form = Form::new().part("profile_image", image_part(gif, "a.gif"));
    assert_eq!(
        put_profile(&app, &user.access, form).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn images_over_five_megabytes_are_413() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let mut big = png(4, 4);
    big.resize(5 * 1024 * 1024 + 1, 0);
    let form = Form::new().part("profile_image", image_part(big, "big.png"));
    let (status, body) = put_profile(&app, &user.access, form).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "Payload too large", "code": "payload_too_large"})
        )
    );
    let form = signup_form(&unique("big"), "password1", "30", "male").part(
        "profile_image",
        image_part(vec![0u8; 5 * 1024 * 1024 + 1], "x.jpg"),
    );
    assert_eq!(app.signup_raw(form).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn update_profile_refuses_taken_and_invalid_usernames_and_empty_forms() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let other = app.signup().await;
    let form = Form::new().text("username", other.username.to_uppercase());
    let (status, body) = put_profile(&app, &user.access, form).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CONFLICT,
            json!({"error": "이미 사용 중인 아이디입니다.", "code": "username_taken"})
        )
    );
    let form = Form::new().text("username", "x!");
    let (status, body) = put_profile(&app, &user.access, form).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("username: must be 3 to 30 characters")
        )
    );
    let (status, body) = put_profile(&app, &user.access, Form::new().text("other", "x")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("username or profile_image: one is required")
        )
    );
    let (status, _) = put_profile(&app, "bad-token", Form::new().text("username", "abcdef")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_media_is_404() {
    let app = spawn_app().await;
    let (status, body) = app.get("/media/profiles/nothing.png", None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
    let (status, _) = app
        .get("/media/profiles/..%2F..%2Fetc%2Fpasswd", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn portraits_are_turned_upright_before_their_exif_is_dropped() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let form = Form::new().part("profile_image", image_part(jpeg_turned_sideways(), "p.jpg"));
    let (status, body) = put_profile(&app, &user.access, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, profile) = app.get("/api/user/profile/", Some(&user.access)).await;
    let res = app
        .client
        .get(profile["profile_image"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let decoded = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (48, 64));
}

#[tokio::test]
async fn images_over_forty_megapixels_are_refused_before_decoding() {
    let app = spawn_app().await;
    let user = app.signup().await;
    // 7000 x 6000 = 42 MP: refused from its header, its pixels unread
    let form = Form::new().part(
        "profile_image",
        image_part(crate::faults::png_of(7000, 6000, 1), "big.png"),
    );
    assert_eq!(
        put_profile(&app, &user.access, form).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("profile_image: at most 40 megapixels")
        )
    );
}

#[tokio::test]
async fn media_names_that_cannot_exist_are_404() {
    let app = spawn_app().await;
    let long = format!("/media/profiles/{}.png", "a".repeat(300));
    assert_eq!(
        app.get(&long, None).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
}
