import NN
import Tensor

/// The audio of one window of T frames: mel units [U, 80, 4] covering the window and up to
/// `context` units on each side of it (fewer at the ends of the clip); the window's own units are
/// start ..< start + frames. A2L reads all U units, so a frame's lip unit can use speech beyond
/// its window; the 0.2 s audio windows (window encoder, d_av) read the real units across the
/// window's edges, repeating an edge unit only at the ends of the clip.
public struct WindowAudio {
    public static let unitSize = 320
    public let mel: [Float]
    public let start: Int
    public let frames: Int

    /// The units a window reads: `window` widened by `context` on each side, within 0 ..< count.
    public static func span(around window: Range<Int>, context: Int, within count: Int) -> Range<Int> {
        max(0, window.lowerBound - context)..<min(count, window.upperBound + context)
    }

    /// `mel` holds units `span` of a clip; the window is units `window` of the same clip.
    public init(mel: [Float], span: Range<Int>, window: Range<Int>) {
        precondition(mel.count == span.count * WindowAudio.unitSize && span.lowerBound <= window.lowerBound
                     && window.upperBound <= span.upperBound && !window.isEmpty,
                     "mel of \(mel.count / WindowAudio.unitSize) units for span \(span) around window \(window)")
        (self.mel, start, frames) = (mel, window.lowerBound - span.lowerBound, window.count)
    }

    /// Window `window` of `units` [N, 80, 4] (a whole clip or speech track) with `context`.
    public init(units: [Float], window: Range<Int>, context: Int) {
        let span = WindowAudio.span(around: window, context: context, within: units.count / WindowAudio.unitSize)
        self.init(mel: Array(units[(span.lowerBound * WindowAudio.unitSize)..<(span.upperBound * WindowAudio.unitSize)]),
                  span: span, window: window)
    }

    /// The sync encoder's 0.2 s audio windows centred on the window's frames: [T, 1, 80, 20].
    public var syncInput: Tensor {
        mel.withUnsafeBufferPointer { SyncEncoder.audioInput(mel: $0, centres: Array(start..<(start + frames))) }
    }
}

/// The lip-unit source: A2L over a window's audio units, or the window audio encoder over the
/// 0.2 s mel windows. Its state dict is A2L's, or `audio.*` of a SyncEncoder (only that stream is used).
public final class LipEncoder: Module {
    /// Where lip units come from: A2L on the window's audio units (CALS), or a 0.2 s conv audio
    /// encoder trained from scratch (the paper's baseline). The raw values are what L2F
    /// checkpoints store.
    public enum Source: String, Codable, Sendable, CaseIterable { case a2l, window }

    public struct Config: Equatable {
        public var source: Source
        /// The A2L architecture (from its checkpoint) for `.a2l`; nil: the default.
        public var a2l: A2L.Config?
        /// The window encoder (the sync encoder's audio stream architecture) for `.window`; nil: the default.
        public var windowEncoder: SyncEncoder.Config?
        /// Width of the window encoder's units (the generator's lip input).
        public var lipDim: Int
        /// A2L stays as loaded (no gradient, not in the optimiser).
        public var frozen: Bool

        public init(source: Source, a2l: A2L.Config?, windowEncoder: SyncEncoder.Config?, lipDim: Int, frozen: Bool) {
            (self.source, self.a2l, self.windowEncoder, self.lipDim, self.frozen) = (source, a2l, windowEncoder, lipDim, frozen)
        }
    }

    public let a2l: A2L?
    let window: SyncEncoder?
    public let trainable: Bool

    public init(_ config: Config, rng: inout RandomGenerator) {
        switch config.source {
        case .a2l:
            a2l = A2L(config.a2l ?? A2L.Config(), rng: &rng)
            window = nil
            trainable = !config.frozen
        case .window:
            var c = config.windowEncoder ?? SyncEncoder.Config()
            c.outputDim = config.lipDim
            window = SyncEncoder(c, rng: &rng)
            a2l = nil
            trainable = true
        }
        for (_, p) in parameters { p.requiresGrad = trainable }
    }

    /// Lip units [N, D] of B windows (window-major): A2L over each window's whole audio span
    /// [1, U, 320] (spans differ in length at clip ends), keeping the window's T rows, with the
    /// dropout masks of the window's place in the global batch; or the window encoder on the 0.2 s
    /// windows centred on the window's frames.
    public func callAsFunction(_ audio: [WindowAudio], _ ctx: Context) -> Tensor {
        if let a2l {
            return concat(ctx.mapSamples(audio.count, dropout: a2l.config.dropout) { i in
                let w = audio[i], u = w.mel.count / WindowAudio.unitSize
                return a2l(Tensor(shape: [1, u, WindowAudio.unitSize], values: w.mel), ctx)
                    .reshaped([u, -1]).slice(axis: 0, w.start..<(w.start + w.frames))      // [T, D]
            }, axis: 0)
        }
        return window!.embedAudio(concat(audio.map(\.syncInput), axis: 0), ctx)
    }

    public var parameters: [(String, Tensor)] { a2l?.parameters ?? prefixed("audio", window!.audio.parameters) }
    public var buffers: [(String, Tensor)] { a2l?.buffers ?? prefixed("audio", window!.audio.buffers) }
    /// The parameters the generator's optimiser updates: none when frozen.
    public var trainedParameters: [(String, Tensor)] { trainable ? parameters : [] }
}
