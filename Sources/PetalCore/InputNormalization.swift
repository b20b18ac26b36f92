/// How a backbone wants its input pixels: `value * scale + offset` on 0...255 RGB values,
/// or per channel (R, G, B) for torchvision's ImageNet mean and standard deviation.
/// It belongs to the backbone (MobileNetV2: x/127.5 - 1; EfficientNet-Lite: (x - 127)/128),
/// and data loaders apply it, so callers never repeat it.
public struct InputNormalization: Codable, Sendable, Equatable {
    public var scale: Float
    public var offset: Float
    /// Per-channel scale and offset (R, G, B) replacing `scale` and `offset` when set.
    public var channelScales: [Float]?
    public var channelOffsets: [Float]?

    public init(scale: Float, offset: Float) {
        self.scale = scale
        self.offset = offset
    }

    /// `(x / 255 - mean) / std` per channel.
    public init(mean: [Float], standardDeviation std: [Float]) {
        self.init(scale: 1, offset: 0)
        channelScales = std.map { 1 / (255 * $0) }
        channelOffsets = zip(mean, std).map { -$0 / $1 }
    }

    /// Keras's `mobilenet_v2.preprocess_input`: to [-1, 1].
    public static let minusOneToOne = InputNormalization(scale: 1 / 127.5, offset: -1)
    /// EfficientNet-Lite's reference preprocessing: (x - 127) / 128.
    public static let efficientNetLite = InputNormalization(scale: 1 / 128, offset: -127 / 128)
    /// torchvision's ImageNet preprocessing (`transforms.Normalize` after `ToTensor`).
    public static let imageNetMeanStd = InputNormalization(mean: [0.485, 0.456, 0.406], standardDeviation: [0.229, 0.224, 0.225])

    /// Scale and offset of channel `c` (0, 1, 2 for R, G, B).
    @inline(__always)
    public func scale(channel c: Int) -> Float { channelScales?[c] ?? scale }
    @inline(__always)
    public func offset(channel c: Int) -> Float { channelOffsets?[c] ?? offset }

    @inline(__always)
    public func apply(_ pixel: UInt8, channel: Int = 0) -> Float { Float(pixel) * scale(channel: channel) + offset(channel: channel) }

    /// Normalises `count` bytes (whole RGB pixels, interleaved) into floats: the one loop the
    /// data loader and inference share, so a model sees the same numbers in evaluation and in use.
    @inline(__always)
    public func apply(_ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        guard channelScales != nil || channelOffsets != nil else {
            let s = scale, o = offset
            for i in 0..<count { destination[i] = Float(source[i]) * s + o }
            return
        }
        let (s0, s1, s2) = (scale(channel: 0), scale(channel: 1), scale(channel: 2))
        let (o0, o1, o2) = (offset(channel: 0), offset(channel: 1), offset(channel: 2))
        for p in 0..<count / 3 {
            destination[p * 3] = Float(source[p * 3]) * s0 + o0
            destination[p * 3 + 1] = Float(source[p * 3 + 1]) * s1 + o1
            destination[p * 3 + 2] = Float(source[p * 3 + 2]) * s2 + o2
        }
    }
}
