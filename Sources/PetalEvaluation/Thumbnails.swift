import Foundation
import PetalData

/// Small square JPEG thumbnails of test images, for embedding in report.html as data URIs.
/// Decoding (JPEG with DCT scaling and EXIF orientation, PNG) and encoding are PetalData's;
/// this only picks the size and crops the centre square.
public enum Thumbnail {
    /// A `side`×`side` centre crop of the upright image at `url`, encoded as JPEG.
    /// Throws `DataError` naming the file if it cannot be read or decoded.
    public static func jpeg(of url: URL, side: Int = 96, quality: Int = 80) throws -> Data {
        try JPEGEncoder.encode(image(of: url, side: side), quality: quality)
    }

    /// `data:image/jpeg;base64,...` for an `<img src>`.
    public static func dataURI(of url: URL, side: Int = 96, quality: Int = 80) throws -> String {
        "data:image/jpeg;base64," + (try jpeg(of: url, side: side, quality: quality)).base64EncodedString()
    }

    /// The upright image resized so its shorter side is `side`, then cropped to the centre square.
    public static func image(of url: URL, side: Int = 96) throws -> RGBImage {
        let info = try ImageDecoder.info(contentsOf: url)
        let (w, h) = (info.uprightWidth, info.uprightHeight)
        // libjpeg-turbo can "read" the header of a file cut off after its first markers as 0×0.
        guard w > 0, h > 0 else {
            throw DataError.undecodable(path: url.path, reason: "truncated or corrupt image (its header gives no size)")
        }
        let scale = Double(side) / Double(max(1, min(w, h)))
        let width = max(side, Int((Double(w) * scale).rounded()))
        let height = max(side, Int((Double(h) * scale).rounded()))
        return centreSquare(try ImageDecoder.decode(contentsOf: url, width: width, height: height), side: side)
    }

    /// The centre `side`×`side` pixels of an image at least that large in both directions.
    static func centreSquare(_ image: RGBImage, side: Int) -> RGBImage {
        let x0 = (image.width - side) / 2, y0 = (image.height - side) / 2
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            let source = ((y0 + y) * image.width + x0) * 3
            pixels.replaceSubrange(y * side * 3 ..< (y + 1) * side * 3,
                                   with: image.pixels[source ..< source + side * 3])
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }
}
